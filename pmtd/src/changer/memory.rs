//! A library in memory behind a [`ScsiPort`]: pmtd's own SMC engine over
//! an inventory and drive states kept in memory, shared by every port
//! opened to it. It stands for a real library where none is (the tests of
//! what drives libraries, a dry run of a configuration), and it can be
//! made to fail: a port that drops its connection, a library that stops
//! answering, a drive that stays full.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Command, Dir, Outcome, ScsiPort};
use crate::library::element::{Element, Layout};
use crate::library::inventory::{Cartridge, Inventory};
use crate::library::robot::DriveState;
use crate::library::smc::{DriveInfo, Mechanics, Smc};
use crate::scsi::{Check, Identity};

/// The library's state.
#[derive(Debug)]
pub struct State {
    /// Where every cartridge is.
    pub inventory: Inventory,
    /// Removal through the import/export slots is prevented.
    pub prevented: bool,
    /// Commands executed, moves among them.
    pub commands: usize,
    /// MOVE MEDIUM and EXCHANGE MEDIUM carried out.
    pub moves: usize,
    /// The next this many commands fail as a dropped connection does
    /// (after being carried out if `done_anyway`).
    pub drop_next: usize,
    /// A dropped command is carried out all the same (the connection
    /// dropped after the library did it).
    pub done_anyway: bool,
}

impl Mechanics for State {
    fn inventory(&self) -> &Inventory {
        &self.inventory
    }
    fn drive_state(&self, _n: u16) -> Option<DriveState> {
        None
    }
    fn prevented(&self) -> bool {
        self.prevented
    }
    fn set_prevented(&mut self, on: bool) {
        self.prevented = on;
    }
    fn transfer(&mut self, moves: &[(Element, Element)]) -> Result<(), Check> {
        let next = self.inventory.apply(moves)?;
        if self.prevented && moves.iter().any(|(a, b)| a.is_portal() || b.is_portal()) {
            return Err(Check::REMOVAL_PREVENTED);
        }
        self.inventory = next;
        self.moves += 1;
        Ok(())
    }
}

/// A library in memory (see the module documentation).
#[derive(Clone, Debug)]
pub struct MemoryLibrary {
    name: String,
    smc: Arc<Smc>,
    state: Arc<Mutex<State>>,
}

impl MemoryLibrary {
    /// A library of `slots` slots, `portals` import/export slots and
    /// `drives` drives, at the default addresses, with cartridges
    /// `barcodes` in its first slots (an empty barcode leaves the slot
    /// empty).
    pub fn new(name: &str, slots: u16, portals: u16, drives: u16, barcodes: &[String]) -> MemoryLibrary {
        let layout = Layout::new(slots, portals, drives, [None; 4]).unwrap_or_else(|_| Layout::new(1, 0, 1, [None; 4]).expect("a minimal layout"));
        let id = Identity::new("PMT", "MEMORY LIBRARY", "0100", "PMTM0000").expect("a valid identity");
        let infos = (0..drives).map(|n| DriveInfo { serial: format!("{name}-D{n}"), scsi_id: None }).collect();
        let mut inventory = Inventory::default();
        for (i, b) in barcodes.iter().enumerate().filter(|(_, b)| !b.is_empty()) {
            let c = Cartridge { barcode: b.clone(), medium: vec!["memory".into()], from: None, imported: false };
            let _ = inventory.place(Element::Slot(i as u16), c);
        }
        let state = State { inventory, prevented: false, commands: 0, moves: 0, drop_next: 0, done_anyway: false };
        MemoryLibrary { name: name.to_string(), smc: Arc::new(Smc::new(id, layout, infos)), state: Arc::new(Mutex::new(state)) }
    }

    /// Its state.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A port to it.
    pub fn port(&self) -> MemoryPort {
        MemoryPort { lib: self.clone(), broken: false }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A port to a [`MemoryLibrary`]; once a command was dropped, every later
/// one fails too, as a broken connection does.
#[derive(Debug)]
pub struct MemoryPort {
    lib: MemoryLibrary,
    broken: bool,
}

impl ScsiPort for MemoryPort {
    fn name(&self) -> String {
        self.lib.name.clone()
    }

    fn execute(&mut self, cmd: &Command) -> io::Result<Outcome> {
        if self.broken {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the connection dropped"));
        }
        let mut s = self.lib.state();
        s.commands += 1;
        let drop = s.drop_next > 0;
        if drop {
            s.drop_next -= 1;
            if !s.done_anyway {
                self.broken = true;
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the connection dropped"));
            }
        }
        let r = self.lib.smc.execute(&mut *s, &cmd.cdb, &cmd.data_out);
        if drop {
            self.broken = true;
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the connection dropped"));
        }
        let mut data = if cmd.dir == Dir::FromDev { r.data.clone() } else { Vec::new() };
        data.truncate(cmd.alloc as usize);
        Ok(Outcome { status: r.status(), sense: r.sense.map(|c| c.fixed().to_vec()).unwrap_or_default(), data })
    }
}
