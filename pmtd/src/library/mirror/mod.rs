//! A mirrored library: the library programs see (its changer and drives,
//! served by this pmtd) stands for two or more real libraries, its
//! *sides*, and every move is made on every side. A side is one library or
//! several (their slots follow one another), or a part of one (some of its
//! slots and drives); each is reached through SG_IO on this host or through
//! the remote changer protocol on another ([`crate::changer`]).
//!
//! - **A move is made everywhere or nowhere.** Every side plans it first
//!   (which of its drives receives the cartridge: a free drive of the
//!   library that holds it); a side that cannot fails the move before
//!   anything moves, with a sense mtx understands (a side whose drives are
//!   all full: DESTINATION FULL). Then each side makes it in turn; if one
//!   fails, the sides that made it are brought back ([`Side::reconcile`]
//!   to the unchanged inventory) and the program gets the failing side's
//!   sense (a side that cannot be reached: HARDWARE ERROR 3B/16).
//! - **A loaded pseudo drive's medium is the mirror of the drives the
//!   sides loaded** (their specs, `tape:` or `rmt:`, are the cartridge's
//!   medium in the inventory): every record and filemark to every copy,
//!   the first early warning ending the volume for all (the switchboard's
//!   mirror, [`crate::media::mirror`]), so volume N of one side is record
//!   for record volume N of the other. An unload rewinds the sides' drives
//!   and leaves the tapes to their robots.
//! - **The crash rule.** The pseudo library's inventory file is the truth;
//!   each side's element status (its barcodes) says where its cartridges
//!   are. At start, after a side's connection came back, and after a failed
//!   move, every side is reconciled: what a move that did not finish left
//!   elsewhere goes back where the inventory says. A side that cannot be
//!   reached is *stale*: no move is made until it is reconciled.
//! - At the first start (no inventory file), the sides must agree: slot N
//!   of every side holds the same barcode (or the one its `labels` map
//!   gives), and no drive holds a cartridge.
//! - **Degraded** (the library's `degraded = true`): a side that fails (it
//!   cannot be reached or brought back, or a move fails there while
//!   another side made it) is dropped with an error in the log instead of
//!   failing the move, and the others go on without it until pmtd
//!   restarts; `status` names it. A cartridge loaded meanwhile has no drive
//!   on that side (its medium there is the side's placeholder): it stays in
//!   the slot it left, and the pseudo drive mirrors the other sides' drives
//!   only. At the restart the side is brought back to the inventory like
//!   any other. A move a side refuses before anything moved (its drives
//!   full) is refused all the same: that side did not fail.

pub mod config;
pub mod side;

use tracing::{error, info, warn};

use self::config::SideSetup;
use self::side::{Plan, Side};
use super::element::{ElemType, Element, Layout};
use super::inventory::{Cartridge, Inventory};
use crate::scsi::Check;

/// The medium a cartridge records for side `name` where it is in no drive
/// of that side (outside the pseudo drives, or loaded while that side was
/// dropped).
pub fn placeholder(name: &str) -> String {
    format!("side:{name}")
}

/// Whether a cartridge's medium entry is a side's placeholder rather than a
/// drive's spec.
pub fn is_placeholder(medium: &str) -> bool {
    medium.starts_with("side:")
}

/// The sides of a mirrored library.
#[derive(Debug)]
pub struct Sides {
    sides: Vec<Side>,
    slots: u16,
    portals: u16,
    /// A side that fails is dropped instead of failing the move.
    degraded: bool,
}

impl Sides {
    /// The sides `setups` describe for a library of `layout`, connected.
    /// `degraded`: a side that cannot be reached is dropped (at least one
    /// must be).
    pub fn open(setups: &[SideSetup], layout: &Layout, degraded: bool) -> Result<Sides, String> {
        if setups.is_empty() {
            return Err("a mirrored library has at least one [[side]]".into());
        }
        let mut sides: Vec<Side> = setups.iter().enumerate().map(|(i, s)| Side::new(s, i)).collect();
        let (slots, portals) = (layout.count(ElemType::Slot), layout.count(ElemType::Portal));
        for s in &mut sides {
            if let Err(e) = s.connect(slots, portals) {
                if !degraded {
                    return Err(e);
                }
                s.drop_side(e);
            }
        }
        if sides.iter().all(|s| s.dropped.is_some()) {
            return Err("no side of the mirrored library can be reached".into());
        }
        Ok(Sides { sides, slots, portals, degraded })
    }

    /// The names of the sides, as a cartridge outside a drive records its
    /// medium.
    pub fn placeholder(&self) -> Vec<String> {
        self.sides.iter().map(|s| placeholder(&s.name)).collect()
    }

    fn live(&mut self) -> impl Iterator<Item = &mut Side> {
        self.sides.iter_mut().filter(|s| s.dropped.is_none())
    }

    /// The inventory of a library starting for the first time: what the
    /// sides agree their slots and import/export slots hold.
    pub fn initial(&self, layout: &Layout) -> Result<Inventory, String> {
        let mut inv = Inventory::default();
        let sides: Vec<&Side> = self.sides.iter().filter(|s| s.dropped.is_none()).collect();
        for s in &sides {
            let found = s.found()?;
            for (label, p) in &found {
                if p.elem.drive().is_some() {
                    return Err(format!("side {}: a drive holds {label}: unload the sides' drives before the first start", s.name));
                }
            }
        }
        let first = sides.first().ok_or("no side")?;
        for e in layout.all(None).into_iter().filter(|e| matches!(e, Element::Slot(_) | Element::Portal(_))) {
            let held: Vec<Option<String>> = sides.iter().map(|s| s.fixed_place(e).and_then(|p| s.holds(p)).map(|l| s.barcode(&l))).collect();
            let want = held.first().cloned().flatten();
            if held.iter().any(|h| *h != want) {
                let say: Vec<String> =
                    sides.iter().zip(&held).map(|(s, h)| format!("side {} {}", s.name, h.as_deref().unwrap_or("nothing"))).collect();
                return Err(format!("{e}: the sides do not agree ({}); make them hold the same before the first start", say.join(", ")));
            }
            if let Some(b) = want {
                if b.is_empty() {
                    return Err(format!("{e}: side {} holds a cartridge without a barcode", first.name));
                }
                inv.place(e, Cartridge { barcode: b, medium: self.placeholder(), from: None, imported: false })?;
            }
        }
        Ok(inv)
    }

    /// Brings every side to `inv` (degraded: drops a side that cannot be).
    pub fn reconcile(&mut self, inv: &Inventory) -> Result<(), String> {
        let (slots, portals, degraded) = (self.slots, self.portals, self.degraded);
        let mut first = None;
        for s in self.live() {
            match s.reconcile(inv, slots, portals) {
                Ok(0) => {}
                Ok(n) => warn!(side = %s.name, moves = n, "side brought back to the inventory"),
                Err(e) if degraded => s.drop_side(e),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        if self.sides.iter().all(|s| s.dropped.is_some()) {
            return Err("no side of the mirrored library can be brought to the inventory".into());
        }
        first.map_or(Ok(()), Err)
    }

    /// Makes the pseudo library's `moves` on every side, from `old`; fills
    /// in `next` (the inventory after them) the medium of each cartridge
    /// the moves put in a drive (each side's drive) or took out of one.
    /// On failure, the sides are brought back to `old` and the sense to
    /// give the program comes back.
    pub fn carry(&mut self, old: &Inventory, next: &mut Inventory, moves: &[(Element, Element)]) -> Result<(), Check> {
        let (slots, portals, degraded) = (self.slots, self.portals, self.degraded);
        for s in self.live().filter(|s| s.stale) {
            if let Err(e) = s.reconcile(old, slots, portals) {
                if degraded {
                    s.drop_side(e);
                    continue;
                }
                error!(side = %s.name, "move refused: the side cannot be reached or brought back: {e}");
                return Err(Check::CHANGER_FAILED);
            }
        }
        if self.sides.iter().all(|s| s.dropped.is_some()) {
            error!("move refused: every side of the mirrored library is dropped");
            return Err(Check::CHANGER_FAILED);
        }
        // None: a dropped side's.
        let mut plans: Vec<Option<Plan>> = Vec::new();
        for s in &self.sides {
            if s.dropped.is_some() {
                plans.push(None);
                continue;
            }
            match s.plan(old, moves) {
                Ok(p) => plans.push(Some(p)),
                Err((c, why)) => {
                    warn!("move {moves:?} refused: {why}");
                    return Err(c);
                }
            }
        }
        let mut failed: Vec<(usize, crate::changer::smc::ChangerError)> = Vec::new();
        let mut made = 0;
        for (i, (side, plan)) in self.sides.iter_mut().zip(&plans).enumerate() {
            let Some(plan) = plan else { continue };
            match side.execute(plan) {
                Ok(()) => made += 1,
                Err(e) if degraded => failed.push((i, e)),
                Err(e) => {
                    error!(side = %side.name, "move {moves:?} failed: {e}; the other sides are brought back");
                    failed.push((i, e));
                    break;
                }
            }
        }
        if let Some((i, e)) = failed.first() {
            if !degraded || made == 0 {
                if degraded {
                    error!(side = %self.sides[*i].name, "move {moves:?} failed on every side: {e}");
                }
                let c = e.check();
                self.undo(old);
                return Err(c);
            }
        }
        for (i, e) in failed {
            self.sides[i].drop_side(format!("move {moves:?}: {e}"));
            plans[i] = None;
        }
        for (_, to) in moves {
            let Some(c) = next.at(*to).cloned() else { continue };
            let medium = match to {
                Element::Drive(v) => self
                    .sides
                    .iter()
                    .zip(&plans)
                    .map(|(s, p)| p.as_ref().and_then(|p| p.drives.get(v).cloned()).unwrap_or_else(|| placeholder(&s.name)))
                    .collect(),
                _ => self.placeholder(),
            };
            next.remove(*to);
            next.place(*to, Cartridge { medium, ..c }).map_err(|e| {
                error!("{e}");
                Check::INTERNAL
            })?;
        }
        info!(moves = ?moves, sides = self.sides.len(), "moved on every side");
        Ok(())
    }

    /// Brings every side back to `old` after a move failed. A side that
    /// did not answer is not waited for now (the move fails at once): it
    /// stays stale, and is brought back before the next move; so does a
    /// side that cannot be brought back.
    pub fn undo(&mut self, old: &Inventory) {
        let (slots, portals) = (self.slots, self.portals);
        for s in self.live().filter(|s| !s.stale) {
            match s.reconcile(old, slots, portals) {
                Ok(0) => {}
                Ok(n) => warn!(side = %s.name, moves = n, "side brought back to the inventory"),
                Err(e) => error!(side = %s.name, "the side could not be brought back ({e}): no move until it is"),
            }
        }
    }

    /// One line per side: its name and whether it agrees with the
    /// inventory.
    pub fn describe(&self) -> String {
        self.sides
            .iter()
            .map(|s| match &s.dropped {
                Some(why) => format!("side {}: dropped until pmtd restarts ({why})\n", s.name),
                None if s.stale => format!("side {}: not reachable or not in agreement\n", s.name),
                None => format!("side {}: in agreement\n", s.name),
            })
            .collect()
    }
}
