//! The library's mechanics ([`Robot`]): the inventory and its file, the
//! drives, the import/export door. Every move keeps the drives and the
//! inventory in agreement at every instant:
//!
//! - the drives a move touches are locked (each drive's mutex, which its
//!   service thread holds while it runs a batch of commands), so no drive
//!   command runs in the middle of a move;
//! - a drive that gives up its cartridge unloads it first (the data made
//!   durable); a drive in use (a program has it open) with its tape loaded
//!   refuses (NOT READY 04/07), one whose medium removal is prevented
//!   refuses (ILLEGAL REQUEST 53/02), otherwise the library unloads it
//!   itself, as real libraries do;
//! - a drive that receives a cartridge loads it before the move is
//!   answered: its next command sees the medium (and the unit attention a
//!   new medium gives at the next open);
//! - then the new inventory is written atomically. Anything that fails
//!   before that puts every drive back as it was and the move fails.
//!
//! The crash rule: the inventory file is the truth. A daemon killed at any
//! point of a move leaves the old file or the new one; at start every drive
//! loads the cartridge its element holds. So a cartridge is never lost and
//! never in two places, and a restarted library agrees with its drives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::bay::{Bay, MediaDefaults};
use super::config::{media_of, LibraryConfig};
use super::element::{ElemType, Element, Layout};
use super::inventory::{check_barcode, Cartridge, Inventory, InventoryError, InventoryFile, SaveStep};
use super::mirror::Sides;
use crate::drive::{Drive, DriveConfig, ALERT_NO_REMOVAL};
use crate::scsi::Check;

/// A drive of the library.
pub type LibraryDrive = Drive<Bay>;
/// A drive shared by its service thread and the library.
pub type SharedDrive = Arc<Mutex<LibraryDrive>>;

/// Where the crash tests stop a daemon during a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Drive `n` unloaded the cartridge it gives up.
    Unloaded(u16),
    /// Drive `n` loaded the cartridge it receives.
    Loaded(u16),
    /// A step of saving the new inventory.
    Saved(SaveStep),
    /// The move is done, not yet answered.
    Committed,
}

/// What the crash tests run at each step.
pub type Hook = Box<dyn FnMut(Step) + Send>;

/// The state of a drive, for element status and operators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveState {
    /// Its tape is loaded (not ejected).
    pub loaded: bool,
    /// A program has it open.
    pub in_use: bool,
    /// Medium removal is prevented.
    pub locked: bool,
}

impl DriveState {
    /// The picker could take its cartridge now (SMC's ACCESS bit).
    pub fn accessible(&self) -> bool {
        !(self.locked || self.loaded && self.in_use)
    }
}

/// Locks a drive (a thread that panicked with it held leaves it as it was).
pub fn lock(d: &SharedDrive) -> MutexGuard<'_, LibraryDrive> {
    d.lock().unwrap_or_else(|e| e.into_inner())
}

/// The library's mechanics (see the module documentation).
pub struct Robot {
    layout: Layout,
    inventory: Inventory,
    file: InventoryFile,
    drives: Vec<SharedDrive>,
    prevented: bool,
    default_medium: String,
    hook: Option<Hook>,
    /// A mirrored library's sides.
    sides: Option<Sides>,
}

/// Why an operator cannot import or export in a mirrored library.
const MIRRORED: &str = "a mirrored library takes its cartridges from its sides: import or export them on each side's library";

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot").field("inventory", &self.inventory).finish_non_exhaustive()
    }
}

impl Robot {
    /// The library `cfg` describes, with its inventory (the configuration's
    /// cartridges if it has none yet), each drive loading the cartridge its
    /// element holds. `hook` is told every step of every move.
    pub fn open(cfg: &LibraryConfig, hook: Option<Hook>) -> Result<Robot, InventoryError> {
        let file = InventoryFile::new(&cfg.inventory);
        let mut sides = if cfg.sides.is_empty() { None } else { Some(Sides::open(&cfg.sides, &cfg.layout, cfg.degraded).map_err(InventoryError::Invalid)?) };
        let inventory = match file.load()? {
            Some(inv) => {
                if !cfg.cartridges.is_empty() {
                    info!("{}: the inventory holds the cartridges; those of the configuration are not placed again", file.path().display());
                }
                inv
            }
            None => {
                let inv = match &sides {
                    Some(s) => s.initial(&cfg.layout).map_err(InventoryError::Invalid)?,
                    None => {
                        let mut inv = Inventory::default();
                        for (e, c) in &cfg.cartridges {
                            inv.place(*e, c.clone()).map_err(InventoryError::Invalid)?;
                        }
                        inv
                    }
                };
                inv.check(&cfg.layout)?;
                file.save(&inv, &mut |_| {})?;
                info!("{}: a new inventory of {} cartridges", file.path().display(), inv.len());
                inv
            }
        };
        if let Some(s) = sides.as_mut() {
            s.reconcile(&inventory).map_err(InventoryError::Invalid)?;
        }
        inventory.check(&cfg.layout)?;
        let defaults = MediaDefaults { image: cfg.image, degraded: cfg.degraded };
        let mut drives = Vec::new();
        for (n, d) in cfg.drives.iter().enumerate() {
            let dcfg = DriveConfig { min_block: 1, max_block: cfg.max_block, identity: d.identity.clone(), refuse_after_enospc: !cfg.write_after_enospc };
            let mut drive = Drive::new(Bay::new(defaults), dcfg).map_err(|e| InventoryError::Invalid(e.to_string()))?;
            if let Some(c) = inventory.at(Element::Drive(n as u16)) {
                drive.volumes_mut().put(&c.barcode, &c.medium);
                match drive.load_medium() {
                    Ok(true) => info!("drive {n} holds {}", c.barcode),
                    Ok(false) => warn!("drive {n} holds {}, which has no volume: it stays unloaded", c.barcode),
                    Err(e) => warn!("drive {n} holds {}, which does not load ({e}): it stays unloaded", c.barcode),
                }
            }
            drives.push(Arc::new(Mutex::new(drive)));
        }
        Ok(Robot { layout: cfg.layout, inventory, file, drives, prevented: false, default_medium: cfg.default_medium.clone(), hook, sides })
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The drives, in element order.
    pub fn drives(&self) -> &[SharedDrive] {
        &self.drives
    }

    /// A mirrored library's sides: how each stands.
    pub fn sides(&self) -> Option<String> {
        self.sides.as_ref().map(Sides::describe)
    }

    /// True while removal through the import/export slots is prevented.
    pub fn prevented(&self) -> bool {
        self.prevented
    }

    /// PREVENT (true) or ALLOW (false) MEDIUM REMOVAL: a prevented library
    /// moves nothing to or from its import/export slots, and operators can
    /// neither import nor export.
    pub fn set_prevented(&mut self, on: bool) {
        self.prevented = on;
    }

    /// Drive `n`'s state now.
    pub fn drive_state(&self, n: u16) -> Option<DriveState> {
        let d = lock(self.drives.get(usize::from(n))?);
        Some(DriveState { loaded: d.loaded(), in_use: d.in_use(), locked: d.locked() })
    }

    fn step(&mut self, s: Step) {
        if let Some(h) = self.hook.as_mut() {
            h(s);
        }
    }

    /// Makes `moves` at once (a MOVE MEDIUM is one, an EXCHANGE MEDIUM
    /// two), with the drives they touch, and writes the new inventory.
    pub fn transfer(&mut self, moves: &[(Element, Element)]) -> Result<(), Check> {
        let started = std::time::Instant::now();
        let mut next = self.inventory.apply(moves)?;
        if self.prevented && moves.iter().any(|(a, b)| a.is_portal() || b.is_portal()) {
            return Err(Check::REMOVAL_PREVENTED);
        }
        let drives = self.drives.clone();
        let mut guards: BTreeMap<u16, MutexGuard<'_, LibraryDrive>> = BTreeMap::new();
        for (a, b) in moves {
            for n in [a.drive(), b.drive()].into_iter().flatten() {
                if let (false, Some(d)) = (guards.contains_key(&n), drives.get(usize::from(n))) {
                    guards.insert(n, lock(d));
                }
            }
        }
        let before: BTreeMap<u16, bool> = guards.iter().map(|(n, g)| (*n, g.loaded())).collect();
        let mut carried = false;
        let r = self.transfer_locked(moves, &mut next, &mut guards, &mut carried);
        if let Err(c) = r {
            if carried {
                if let Some(s) = self.sides.as_mut() {
                    s.undo(&self.inventory);
                }
            }
            self.restore(&mut guards, &before);
            warn!("move {moves:?} failed: {c}");
            return Err(c);
        }
        self.inventory = next;
        drop(guards);
        self.step(Step::Committed);
        info!(moves = ?moves, took_us = started.elapsed().as_micros() as u64, "moved");
        Ok(())
    }

    fn transfer_locked(
        &mut self,
        moves: &[(Element, Element)],
        next: &mut Inventory,
        guards: &mut BTreeMap<u16, MutexGuard<'_, LibraryDrive>>,
        carried: &mut bool,
    ) -> Result<(), Check> {
        for (from, _) in moves {
            let Some(n) = from.drive() else { continue };
            let g = guards.get_mut(&n).ok_or(Check::INVALID_ELEMENT)?;
            if g.locked() {
                g.alert(ALERT_NO_REMOVAL);
                return Err(Check::REMOVAL_PREVENTED);
            }
            if g.loaded() {
                if g.in_use() {
                    return Err(Check::IN_USE);
                }
                if let Err(e) = g.unload_medium() {
                    warn!("drive {n} cannot unload: {e}");
                    // A mirrored library's drive let its sides' drives go
                    // all the same: their libraries take the tapes if they
                    // can.
                    if self.sides.is_none() {
                        return Err(Check::CANNOT_LOAD);
                    }
                }
                self.step(Step::Unloaded(n));
            }
            g.volumes_mut().take();
        }
        if let Some(s) = self.sides.as_mut() {
            s.carry(&self.inventory, next, moves)?;
            *carried = true;
        }
        for (_, to) in moves {
            let Some(n) = to.drive() else { continue };
            let c = next.at(*to).ok_or(Check::INTERNAL)?;
            let g = guards.get_mut(&n).ok_or(Check::INVALID_ELEMENT)?;
            g.volumes_mut().put(&c.barcode, &c.medium);
            match g.load_medium() {
                Ok(true) => {}
                Ok(false) => {
                    warn!("{} has no volume to load", c.barcode);
                    return Err(Check::CANNOT_LOAD);
                }
                Err(e) => {
                    warn!("drive {n} cannot load {}: {e}", c.barcode);
                    return Err(Check::CANNOT_LOAD);
                }
            }
            info!("drive {n} loaded {}", c.barcode);
            self.step(Step::Loaded(n));
        }
        let hook = &mut self.hook;
        self.file
            .save(next, &mut |s| {
                if let Some(h) = hook.as_mut() {
                    h(Step::Saved(s));
                }
            })
            .map_err(|e| {
                warn!("{e}");
                Check::INTERNAL
            })
    }

    /// Puts the locked drives back as the (unchanged) inventory has them,
    /// loaded as they were before.
    fn restore(&self, guards: &mut BTreeMap<u16, MutexGuard<'_, LibraryDrive>>, before: &BTreeMap<u16, bool>) {
        for (n, g) in guards.iter_mut() {
            let want = self.inventory.at(Element::Drive(*n));
            if g.volumes().barcode() == want.map(|c| c.barcode.as_str()) && g.loaded() == before.get(n).copied().unwrap_or(false) {
                continue;
            }
            if g.loaded() {
                if let Err(e) = g.unload_medium() {
                    warn!("drive {n}: {e}");
                }
            }
            g.volumes_mut().take();
            if let Some(c) = want {
                g.volumes_mut().put(&c.barcode, &c.medium);
                if before.get(n).copied().unwrap_or(false) {
                    if let Err(e) = g.load_medium() {
                        warn!("drive {n} cannot load {} again ({e}): it stays unloaded", c.barcode);
                    }
                } else {
                    g.volumes_mut().mark_ejected();
                }
            }
        }
    }

    fn commit(&mut self, next: Inventory) -> Result<(), String> {
        let hook = &mut self.hook;
        self.file
            .save(&next, &mut |s| {
                if let Some(h) = hook.as_mut() {
                    h(Step::Saved(s));
                }
            })
            .map_err(|e| e.to_string())?;
        self.inventory = next;
        Ok(())
    }

    /// An operator puts cartridge `barcode` (of `medium`, or the library's
    /// default medium) in import/export slot `portal` (or the first empty
    /// one). It shows with the ImpExp bit until a program moves it.
    pub fn import(&mut self, barcode: &str, medium: Option<Vec<String>>, portal: Option<u16>) -> Result<Element, String> {
        check_barcode(barcode)?;
        if self.sides.is_some() {
            return Err(MIRRORED.into());
        }
        if self.prevented {
            return Err("the import/export slots are locked (a program prevented medium removal; sg_prevent --allow undoes it)".into());
        }
        if let Some(at) = self.inventory.find(barcode) {
            return Err(format!("{barcode} is already in the library ({at})"));
        }
        let n = self.layout.count(ElemType::Portal);
        if n == 0 {
            return Err("the library has no import/export slots".into());
        }
        let e = match portal {
            Some(p) if p < n => Element::Portal(p),
            Some(p) => return Err(format!("portal {}: the library has {n} import/export slots", u32::from(p) + 1)),
            None => (0..n)
                .map(Element::Portal)
                .find(|e| self.inventory.at(*e).is_none())
                .ok_or("no empty import/export slot")?,
        };
        if let Some(c) = self.inventory.at(e) {
            return Err(format!("{e} holds {}", c.barcode));
        }
        let medium = medium.filter(|m| !m.is_empty()).unwrap_or_else(|| media_of(std::slice::from_ref(&self.default_medium), barcode));
        let mut next = self.inventory.clone();
        next.place(e, Cartridge { barcode: barcode.to_string(), medium, from: None, imported: true })?;
        self.commit(next)?;
        info!("{barcode} imported into {e}");
        Ok(e)
    }

    /// An operator takes a cartridge out of its import/export slot: the one
    /// with `barcode`, or the one in `portal`.
    pub fn export(&mut self, barcode: Option<&str>, portal: Option<u16>) -> Result<(Element, Cartridge), String> {
        if self.sides.is_some() {
            return Err(MIRRORED.into());
        }
        if self.prevented {
            return Err("the import/export slots are locked (a program prevented medium removal; sg_prevent --allow undoes it)".into());
        }
        let e = match (barcode, portal) {
            (Some(b), _) => self.inventory.find(b).ok_or_else(|| format!("{b} is not in the library"))?,
            (None, Some(p)) => Element::Portal(p),
            (None, None) => return Err("which cartridge? (a barcode or a portal)".into()),
        };
        if !e.is_portal() {
            let b = barcode.unwrap_or_default();
            return Err(format!("{b} is in {e}: a program moves it to an import/export slot first (mtx transfer, mtx unload)"));
        }
        let mut next = self.inventory.clone();
        let c = next.remove(e).ok_or_else(|| format!("{e} is empty"))?;
        self.commit(next)?;
        info!("{} exported from {e}", c.barcode);
        Ok((e, c))
    }

    /// The library stops: every drive makes its medium durable and unloads
    /// it (the inventory already says where everything is).
    pub fn shut_down(&self) {
        for (n, d) in self.drives.iter().enumerate() {
            let mut g = lock(d);
            if g.loaded() {
                if let Err(e) = g.unload_medium() {
                    warn!("drive {n}: {e}");
                }
            }
        }
    }
}
