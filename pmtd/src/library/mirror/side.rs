//! One side of a mirrored library: its libraries (reached through their
//! changers), the slots of the pseudo library each of their slots stands
//! for, the drives it may load, and the barcodes that differ on it.
//!
//! Slots and import/export slots map one to one, fixed: the pseudo
//! library's slot N is always the same slot of the same library on this
//! side. Drives are bound when a cartridge is loaded: the side loads it
//! into a free drive of the library that holds it (a cartridge cannot
//! leave its library), and the pseudo library's inventory records which
//! (the cartridge's medium is the spec of each side's drive). So the
//! inventory says where every cartridge must be on every side, and a
//! side's own element status says where it is: [`Side::reconcile`] moves
//! back what a move that did not finish left behind.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pmt::chg::ElemType;
use tracing::{error, info, warn};

use super::config::{PortOpener, SideSetup};
use crate::changer::smc::{ChangerError, SmcClient};
use crate::changer::ScsiPort;
use crate::library::element::Element;
use crate::library::inventory::{Cartridge, Inventory};
use crate::scsi::Check;

/// An element of one of a side's libraries: the library's index in the
/// side and the element, numbered in that library (from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// The library.
    pub lib: usize,
    /// The element in it.
    pub elem: Element,
}

/// A physical operation of a move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// MOVE MEDIUM.
    Move(Place, Place),
    /// EXCHANGE MEDIUM: the first to the second, the second to the third.
    Exchange(Place, Place, Place),
}

/// What a side does for a move of the pseudo library.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Its operations.
    pub ops: Vec<Op>,
    /// The drive (its medium spec) each pseudo drive the move fills gets
    /// on this side.
    pub drives: BTreeMap<u16, String>,
}

struct SideLib {
    opener: Arc<dyn PortOpener>,
    client: Option<SmcClient<Box<dyn ScsiPort>>>,
    drives: Vec<(u16, String)>,
    slots: Option<Vec<u16>>,
    portals: Option<Vec<u16>>,
}

/// A side (see the module documentation).
pub struct Side {
    /// Its name.
    pub name: String,
    /// Its place among the sides: the index of its drive's spec in a
    /// loaded cartridge's medium.
    index: usize,
    libs: Vec<SideLib>,
    slots: Vec<Place>,
    portals: Vec<Place>,
    labels: BTreeMap<String, String>,
    /// What the libraries hold is not known (a command went unanswered):
    /// reconcile before anything else.
    pub stale: bool,
    /// Dropped (a degraded library's side that failed): why. No move is
    /// made on it until pmtd restarts.
    pub dropped: Option<String>,
}

impl std::fmt::Debug for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Side").field("name", &self.name).field("stale", &self.stale).finish_non_exhaustive()
    }
}

impl Side {
    /// A side as `setup` describes it, not connected yet.
    pub fn new(setup: &SideSetup, index: usize) -> Side {
        let libs = setup
            .libraries
            .iter()
            .map(|l| SideLib { opener: Arc::clone(&l.changer), client: None, drives: l.drives.clone(), slots: l.slots.clone(), portals: l.portals.clone() })
            .collect();
        Side { name: setup.name.clone(), index, libs, slots: Vec::new(), portals: Vec::new(), labels: setup.labels.clone(), stale: true, dropped: None }
    }

    fn lib_name(&self, lib: usize) -> String {
        self.libs.get(lib).map_or_else(|| format!("library {lib}"), |l| l.opener.name())
    }

    fn client(&mut self, lib: usize) -> Result<&mut SmcClient<Box<dyn ScsiPort>>, String> {
        let name = self.lib_name(lib);
        self.libs.get_mut(lib).and_then(|l| l.client.as_mut()).ok_or_else(|| format!("{name}: not connected"))
    }

    /// Connects every library not connected (again), reads what each
    /// holds, and (the first time) lays the pseudo library's `slots`
    /// slots and `portals` import/export slots over them.
    pub fn connect(&mut self, slots: u16, portals: u16) -> Result<(), String> {
        for (i, l) in self.libs.iter_mut().enumerate() {
            if l.client.is_none() {
                let port = l.opener.open().map_err(|e| format!("side {}: {}: {e}", self.name, l.opener.name()))?;
                let c = SmcClient::open(port).map_err(|e| format!("side {}: {e}", self.name))?;
                info!(side = %self.name, library = %l.opener.name(), layout = ?c.layout(), "side library connected");
                l.client = Some(c);
            } else if let Some(c) = l.client.as_mut() {
                c.refresh().map_err(|e| {
                    l.client = None;
                    format!("side {}: {e}", self.name)
                })?;
            }
            let c = l.client.as_ref().ok_or("not connected")?;
            let lay = c.layout();
            for (n, _) in &l.drives {
                if *n >= lay.count_of(ElemType::Drive) {
                    return Err(format!("side {}: {} has {} drives, no drive {n}", self.name, l.opener.name(), lay.count_of(ElemType::Drive)));
                }
            }
            let _ = i;
        }
        if self.slots.is_empty() {
            let mut s = Vec::new();
            let mut p = Vec::new();
            for (i, l) in self.libs.iter().enumerate() {
                let lay = l.client.as_ref().ok_or("not connected")?.layout();
                let (ns, np) = (lay.count_of(ElemType::Slot), lay.count_of(ElemType::Portal));
                let mine = l.slots.clone().unwrap_or_else(|| (0..ns).collect());
                if let Some(bad) = mine.iter().find(|n| **n >= ns) {
                    return Err(format!("side {}: {} has {ns} slots, no slot {}", self.name, l.opener.name(), bad + 1));
                }
                s.extend(mine.into_iter().map(|n| Place { lib: i, elem: Element::Slot(n) }));
                let mine = l.portals.clone().unwrap_or_else(|| if portals == 0 { Vec::new() } else { (0..np).collect() });
                if let Some(bad) = mine.iter().find(|n| **n >= np) {
                    return Err(format!("side {}: {} has {np} import/export slots, no {}", self.name, l.opener.name(), bad + 1));
                }
                p.extend(mine.into_iter().map(|n| Place { lib: i, elem: Element::Portal(n) }));
            }
            if s.len() != usize::from(slots) {
                return Err(format!("side {}: {} slots for the library's {slots} (give slots = \"...\" for each of its libraries)", self.name, s.len()));
            }
            if p.len() != usize::from(portals) {
                return Err(format!("side {}: {} import/export slots for the library's {portals}", self.name, p.len()));
            }
            self.slots = s;
            self.portals = p;
        }
        Ok(())
    }

    /// Drops the connections (after one failed): the next use connects
    /// again and reconciles.
    fn disconnect(&mut self) {
        for l in &mut self.libs {
            l.client = None;
        }
        self.stale = true;
    }

    /// Drops this side (degraded), loudly: the library goes on without it.
    pub fn drop_side(&mut self, why: String) {
        error!(side = %self.name, "side dropped until pmtd restarts: {why}; the library goes on without it (degraded)");
        self.disconnect();
        self.dropped = Some(why);
    }

    /// This side's barcode for the pseudo library's `barcode`.
    pub fn label(&self, barcode: &str) -> String {
        self.labels.get(barcode).cloned().unwrap_or_else(|| barcode.to_string())
    }

    /// The pseudo library's barcode for this side's `label`.
    pub fn barcode(&self, label: &str) -> String {
        self.labels.iter().find(|(_, l)| *l == label).map_or_else(|| label.to_string(), |(b, _)| b.clone())
    }

    /// Where the pseudo library's slot or import/export slot `e` is here.
    pub fn fixed_place(&self, e: Element) -> Option<Place> {
        match e {
            Element::Slot(n) => self.slots.get(usize::from(n)).copied(),
            Element::Portal(n) => self.portals.get(usize::from(n)).copied(),
            _ => None,
        }
    }

    /// The drive whose medium spec is `spec`.
    fn drive_place(&self, spec: &str) -> Option<Place> {
        self.libs.iter().enumerate().find_map(|(i, l)| l.drives.iter().find(|(_, s)| s == spec).map(|(n, _)| Place { lib: i, elem: Element::Drive(*n) }))
    }

    /// The spec of the drive at `p`.
    fn drive_spec(&self, p: Place) -> Option<&str> {
        let n = p.elem.drive()?;
        self.libs.get(p.lib)?.drives.iter().find(|(x, _)| *x == n).map(|(_, s)| s.as_str())
    }

    /// Where cartridge `c`, in the pseudo library's element `e`, is here.
    pub fn place_of(&self, e: Element, c: &Cartridge) -> Result<Place, String> {
        match e {
            Element::Drive(v) => {
                let spec = c.medium.get(self.index).ok_or_else(|| format!("{} in drive {v} has no drive on side {}", c.barcode, self.name))?;
                if super::is_placeholder(spec) {
                    // Loaded while this side was dropped: it stayed in the
                    // slot it left.
                    return c
                        .from
                        .and_then(|f| self.fixed_place(f))
                        .ok_or_else(|| format!("{} in drive {v} has no drive on side {} and no slot it came from", c.barcode, self.name));
                }
                self.drive_place(spec)
                    .ok_or_else(|| format!("{} in drive {v} is in {spec}, which side {} does not have (the configuration changed?)", c.barcode, self.name))
            }
            _ => self.fixed_place(e).ok_or_else(|| format!("side {} has no place for {e}", self.name)),
        }
    }

    /// Every element this side uses.
    fn partition(&self) -> Vec<Place> {
        let mut v: Vec<Place> = self.slots.iter().chain(self.portals.iter()).copied().collect();
        for (i, l) in self.libs.iter().enumerate() {
            v.extend(l.drives.iter().map(|(n, _)| Place { lib: i, elem: Element::Drive(*n) }));
        }
        v
    }

    /// What the library says `p` holds: None if empty, Some("") if full
    /// without a readable tag.
    pub fn holds(&self, p: Place) -> Option<String> {
        let c = self.libs.get(p.lib)?.client.as_ref()?;
        let ty = p.elem.ty();
        let e = c.element(ty, p.elem.index())?;
        e.full.then(|| e.tag.clone().unwrap_or_default())
    }

    /// The address of `p` in its library.
    fn address(&self, p: Place) -> Option<u16> {
        self.libs.get(p.lib)?.client.as_ref()?.address(p.elem.ty(), p.elem.index())
    }

    /// Where every cartridge of `inv` must be on this side (and its label
    /// here).
    pub fn expected(&self, inv: &Inventory) -> Result<BTreeMap<Place, String>, String> {
        let mut out = BTreeMap::new();
        for (e, c) in inv.iter() {
            let p = self.place_of(e, c)?;
            if out.insert(p, self.label(&c.barcode)).is_some() {
                return Err(format!("side {}: two cartridges in one place ({p:?})", self.name));
            }
        }
        Ok(out)
    }

    /// The cartridges this side's part of its libraries holds: label to
    /// place. A full element without a label is an error (a mirrored
    /// library needs barcodes).
    pub fn found(&self) -> Result<BTreeMap<String, Place>, String> {
        let mut out = BTreeMap::new();
        for p in self.partition() {
            match self.holds(p) {
                None => {}
                Some(l) if l.is_empty() => {
                    return Err(format!("side {}: {} {} holds a cartridge without a barcode", self.name, self.lib_name(p.lib), p.elem))
                }
                Some(l) => {
                    if let Some(q) = out.insert(l.clone(), p) {
                        return Err(format!("side {}: barcode {l} is in {:?} and in {:?}", self.name, q, p));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Brings this side to where `inv` says every cartridge is: moves back
    /// what a move that did not finish (a crash, a dropped connection, a
    /// failure on another side) left elsewhere. Connects (again) if it
    /// must. Returns how many moves it made.
    pub fn reconcile(&mut self, inv: &Inventory, slots: u16, portals: u16) -> Result<usize, String> {
        let r = self.reconcile_once(inv, slots, portals);
        match &r {
            Ok(_) => self.stale = false,
            Err(e) => {
                warn!(side = %self.name, "cannot bring the side back to the inventory: {e}");
                self.stale = true;
            }
        }
        r
    }

    fn reconcile_once(&mut self, inv: &Inventory, slots: u16, portals: u16) -> Result<usize, String> {
        if let Err(e) = self.connect(slots, portals) {
            self.disconnect();
            return Err(e);
        }
        let want = self.expected(inv)?;
        let mut now = self.found()?;
        let wanted: BTreeSet<&String> = want.values().collect();
        if let Some((l, p)) = now.iter().find(|(l, _)| !wanted.contains(l)) {
            return Err(format!("side {}: {} {} holds {l}, which the library does not have", self.name, self.lib_name(p.lib), p.elem));
        }
        for l in &wanted {
            if !now.contains_key(*l) {
                return Err(format!("side {}: {l} is nowhere in its part of its libraries", self.name));
            }
        }
        let mut moves = 0;
        loop {
            let occupied: BTreeSet<Place> = now.values().copied().collect();
            let next = want.iter().find_map(|(p, l)| {
                let at = now.get(l)?;
                (at != p && !occupied.contains(p)).then_some((l.clone(), *at, *p))
            });
            let Some((label, from, to)) = next else { break };
            if from.lib != to.lib {
                return Err(format!("side {}: {label} is in {} and belongs in {}", self.name, self.lib_name(from.lib), self.lib_name(to.lib)));
            }
            warn!(side = %self.name, "{label}: {} {} back to {}", self.lib_name(from.lib), from.elem, to.elem);
            self.execute_op(&Op::Move(from, to)).map_err(|e| e.to_string())?;
            now.insert(label, to);
            moves += 1;
        }
        if let Some((p, l)) = want.iter().find(|(p, l)| now.get(*l) != Some(*p)) {
            return Err(format!("side {}: {l} cannot be brought to {} {} (its place is taken)", self.name, self.lib_name(p.lib), p.elem));
        }
        Ok(moves)
    }

    /// The side's operations for the pseudo library's `moves` (one MOVE
    /// MEDIUM, or the two of an EXCHANGE MEDIUM), from `old`, and the
    /// drives they fill. Nothing is moved.
    pub fn plan(&self, old: &Inventory, moves: &[(Element, Element)]) -> Result<Plan, (Check, String)> {
        let fail = |c: Check, why: String| (c, format!("side {}: {why}", self.name));
        let place = |e: Element| -> Result<Place, (Check, String)> {
            let c = old.at(e).ok_or_else(|| fail(Check::SOURCE_EMPTY, format!("{e} is empty")))?;
            self.place_of(e, c).map_err(|w| fail(Check::CHANGER_FAILED, w))
        };
        let mut taken = BTreeSet::new();
        let mut plan = Plan::default();
        let mut dest = |e: Element, lib: usize, plan: &mut Plan| -> Result<Place, (Check, String)> {
            match e {
                Element::Drive(v) => {
                    let l = self.libs.get(lib).ok_or_else(|| fail(Check::CHANGER_FAILED, "no such library".into()))?;
                    let free = l.drives.iter().map(|(n, _)| Place { lib, elem: Element::Drive(*n) }).find(|p| self.holds(*p).is_none() && !taken.contains(p));
                    let p = free.ok_or_else(|| {
                        fail(Check::DESTINATION_FULL, format!("every drive of {} that the side uses is full", self.lib_name(lib)))
                    })?;
                    taken.insert(p);
                    plan.drives.insert(v, self.drive_spec(p).unwrap_or_default().to_string());
                    Ok(p)
                }
                _ => {
                    let p = self.fixed_place(e).ok_or_else(|| fail(Check::INVALID_ELEMENT, format!("no place for {e}")))?;
                    if p.lib != lib {
                        return Err(fail(
                            Check::INVALID_ELEMENT,
                            format!("{e} is in {}, the cartridge in {}: it cannot change libraries", self.lib_name(p.lib), self.lib_name(lib)),
                        ));
                    }
                    Ok(p)
                }
            }
        };
        match moves {
            [(from, to)] => {
                let s = place(*from)?;
                let d = dest(*to, s.lib, &mut plan)?;
                // A cartridge loaded while this side was dropped goes back
                // to the slot it never left here.
                if s != d {
                    plan.ops.push(Op::Move(s, d));
                }
            }
            [(src, first), (f2, second)] if first == f2 => {
                let s = place(*src)?;
                let f = place(*first)?;
                if s.lib != f.lib {
                    return Err(fail(Check::INVALID_ELEMENT, format!("{src} and {first} are in different libraries")));
                }
                let t = if second == src { s } else { dest(*second, f.lib, &mut plan)? };
                if let Element::Drive(v) = first {
                    plan.drives.insert(*v, self.drive_spec(f).unwrap_or_default().to_string());
                }
                if let (Element::Drive(v), true) = (second, second == src) {
                    plan.drives.insert(*v, self.drive_spec(s).unwrap_or_default().to_string());
                }
                plan.ops.push(Op::Exchange(s, f, t));
            }
            _ => return Err(fail(Check::INVALID_FIELD, "an unknown kind of move".into())),
        }
        Ok(plan)
    }

    fn execute_op(&mut self, op: &Op) -> Result<(), ChangerError> {
        let addr = |s: &Side, p: Place| {
            s.address(p).ok_or_else(|| ChangerError::Invalid { changer: s.lib_name(p.lib), what: format!("no element {}", p.elem) })
        };
        match *op {
            Op::Move(a, b) => {
                let (x, y) = (addr(self, a)?, addr(self, b)?);
                self.client(a.lib).map_err(|what| ChangerError::Invalid { changer: String::new(), what })?.move_medium(x, y)
            }
            Op::Exchange(a, b, c) => {
                let (x, y, z) = (addr(self, a)?, addr(self, b)?, addr(self, c)?);
                self.client(a.lib).map_err(|what| ChangerError::Invalid { changer: String::new(), what })?.exchange_medium(x, y, z)
            }
        }
    }

    /// Carries `plan` out. A library that did not answer leaves the side
    /// stale (its connections dropped): what it holds is found out when it
    /// is reached again.
    pub fn execute(&mut self, plan: &Plan) -> Result<(), ChangerError> {
        for op in &plan.ops {
            if let Err(e) = self.execute_op(op) {
                if e.unanswered() {
                    self.disconnect();
                }
                return Err(e);
            }
        }
        Ok(())
    }
}
