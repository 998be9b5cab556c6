//! A reference tape model: what a program sees from a Linux SCSI tape (st)
//! in variable-block mode, written from the documented behaviour
//! (Documentation/scsi/st.rst and the SCSI stream commands it issues), not
//! from pmt's engine. The property tests run the same operations through the
//! pmt core and the pmtd drive and through this model, and compare.
//!
//! The medium is a list of records and filemarks with a head position; the
//! capacity is counted in SIMH image bytes (a record costs 8 + its length
//! rounded up to even, a filemark 4), early warning being `ew` bytes before
//! the end.

use pmt::Errno;

/// An object on the model tape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MObj {
    /// A record and its data.
    Rec(Vec<u8>),
    /// A filemark.
    Mark,
}

impl MObj {
    fn cost(&self) -> u64 {
        match self {
            MObj::Rec(d) => 8 + d.len() as u64 + (d.len() as u64 & 1),
            MObj::Mark => 4,
        }
    }
}

/// What the driver remembers about the last filemark or end of medium met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// Nothing.
    None,
    /// The last read returned 0 at a filemark.
    AfterFm,
    /// Early warning met while writing: the next write fails.
    WarnNext,
    /// After the failed write at early warning: one write may go (st's
    /// EOD_1, which a read also takes as end of data).
    WarnAllow,
    /// End of data: one more zero read.
    EodOnce,
    /// End of data: reads fail.
    Eod,
}

/// The last data transfer direction (st's `rw`): a filemark is written at
/// close only after writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rw {
    Idle,
    Reading,
    Writing,
}

/// The status bits the tests compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MStatus {
    /// File number.
    pub file: i32,
    /// Block number.
    pub block: i32,
    /// At the beginning of tape.
    pub bot: bool,
    /// Just after a filemark.
    pub eof: bool,
    /// At early warning.
    pub eot: bool,
    /// At end of data.
    pub eod: bool,
}

/// The model.
#[derive(Clone, Debug)]
pub struct Model {
    /// The medium.
    pub tape: Vec<MObj>,
    head: usize,
    file: i32,
    block: i32,
    rw: Rw,
    mark: Mark,
    readonly: bool,
    capacity: Option<u64>,
    ew: u64,
}

fn add(v: i32, d: i32) -> i32 {
    if v >= 0 {
        v + d
    } else {
        v
    }
}

impl Model {
    /// An empty tape of `capacity` bytes (None: unlimited) with early
    /// warning `ew` bytes before its end.
    pub fn new(capacity: Option<u64>, ew: u64) -> Model {
        Model {
            tape: Vec::new(),
            head: 0,
            file: 0,
            block: 0,
            rw: Rw::Idle,
            mark: Mark::None,
            readonly: false,
            capacity,
            ew,
        }
    }

    fn used(&self) -> u64 {
        self.tape.iter().take(self.head).map(MObj::cost).sum()
    }

    /// Appends at the head (cutting what follows). Returns (fits, past early
    /// warning). Filemarks may use a small reserve past the end.
    fn put(&mut self, o: MObj) -> (bool, bool) {
        let after = self.used() + o.cost();
        let reserve = if o == MObj::Mark { pmtd::media::image::FILEMARK_RESERVE } else { 0 };
        if self.capacity.is_some_and(|c| after > c + reserve) {
            return (false, true);
        }
        self.tape.truncate(self.head);
        self.tape.push(o);
        self.head += 1;
        (true, self.capacity.is_some_and(|c| after > c - self.ew))
    }

    /// open(2), with the read-only flag.
    pub fn open(&mut self, readonly: bool) {
        self.readonly = readonly;
        self.rw = Rw::Idle;
    }

    /// close(2): a filemark after writing; back to the start on the
    /// rewinding node.
    pub fn close(&mut self, rewind: bool) -> Result<(), Errno> {
        let mut r = Ok(());
        if self.rw == Rw::Writing {
            let (fits, _) = self.put(MObj::Mark);
            if fits {
                self.file = add(self.file, 1);
                self.block = 0;
                self.mark = Mark::AfterFm;
            } else {
                r = Err(Errno::Io);
            }
        }
        self.rw = Rw::Idle;
        if rewind {
            self.rewind_only();
        }
        r
    }

    fn rewind_only(&mut self) {
        self.head = 0;
        self.file = 0;
        self.block = 0;
        self.mark = Mark::None;
    }

    /// write(2) of one record.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        if self.readonly {
            return Err(Errno::Acces);
        }
        // A reading tape turns to writing before anything else is checked;
        // an idle one only once the record goes out.
        if self.rw == Rw::Reading {
            self.rw = Rw::Writing;
        }
        if self.mark == Mark::WarnNext {
            self.mark = Mark::WarnAllow;
            return Err(Errno::NoSpc);
        }
        self.rw = Rw::Writing;
        let (fits, ew) = self.put(MObj::Rec(data.to_vec()));
        if !fits {
            self.mark = Mark::WarnNext;
            return Err(Errno::NoSpc);
        }
        self.block = add(self.block, 1);
        self.mark = if ew { Mark::WarnNext } else { Mark::None };
        Ok(data.len())
    }

    /// read(2) with a buffer of `n` bytes.
    pub fn read(&mut self, n: usize) -> Result<Vec<u8>, Errno> {
        self.rw = Rw::Reading;
        match self.mark {
            Mark::WarnAllow => {
                self.mark = Mark::EodOnce;
                return Ok(Vec::new());
            }
            Mark::EodOnce => {
                self.mark = Mark::Eod;
                return Ok(Vec::new());
            }
            Mark::Eod => return Err(Errno::Io),
            _ => {}
        }
        match self.tape.get(self.head).cloned() {
            None => {
                self.block = -1;
                if self.mark == Mark::AfterFm {
                    // The filemark and then the end of data: a second zero read.
                    self.mark = Mark::Eod;
                    Ok(Vec::new())
                } else {
                    Err(Errno::Io)
                }
            }
            Some(MObj::Mark) => {
                self.head += 1;
                self.file = add(self.file, 1);
                self.block = 0;
                self.mark = Mark::AfterFm;
                Ok(Vec::new())
            }
            Some(MObj::Rec(d)) => {
                self.head += 1;
                self.block = add(self.block, 1);
                if d.len() > n {
                    return Err(Errno::NoMem);
                }
                // Data clears only the after-filemark state (early warning
                // stays until the tape moves).
                if self.mark == Mark::AfterFm {
                    self.mark = Mark::None;
                }
                Ok(d)
            }
        }
    }

    /// Before a rewind or a backward file space right after writing, st
    /// writes the filemark that ends the file. If it does not fit, the
    /// operation fails there and the file stays open.
    fn close_file_if_writing(&mut self) -> Result<bool, Errno> {
        if self.rw != Rw::Writing {
            self.rw = Rw::Idle;
            return Ok(false);
        }
        let (fits, _) = self.put(MObj::Mark);
        if !fits {
            self.block = 0;
            self.mark = Mark::WarnNext;
            return Err(Errno::Io);
        }
        self.rw = Rw::Idle;
        self.file = add(self.file, 1);
        self.block = 0;
        Ok(true)
    }

    /// MTWEOF n.
    pub fn weof(&mut self, n: u32) -> Result<(), Errno> {
        self.rw = Rw::Idle;
        if self.readonly {
            return Err(Errno::Acces);
        }
        for i in 0..n {
            let (fits, _) = self.put(MObj::Mark);
            if !fits {
                self.file = add(self.file, i as i32);
                self.block = 0;
                self.mark = if i == 0 { Mark::WarnNext } else { Mark::None };
                return Err(Errno::Io);
            }
        }
        self.file = add(self.file, n as i32);
        self.block = 0;
        self.mark = Mark::None;
        Ok(())
    }

    /// MTFSF n.
    pub fn fsf(&mut self, n: u32) -> Result<(), Errno> {
        self.rw = Rw::Idle;
        let mut crossed = 0;
        while crossed < n {
            match self.tape.get(self.head) {
                None => {
                    self.file = add(self.file, crossed as i32);
                    self.block = -1;
                    self.mark = Mark::Eod;
                    return Err(Errno::Io);
                }
                Some(MObj::Mark) => crossed += 1,
                Some(MObj::Rec(_)) => {}
            }
            self.head += 1;
        }
        self.file = add(self.file, n as i32);
        self.block = 0;
        self.mark = Mark::AfterFm;
        Ok(())
    }

    /// MTBSF n: the head ends before the n-th filemark back.
    pub fn bsf(&mut self, n: u32) -> Result<(), Errno> {
        let n = n + u32::from(self.close_file_if_writing()?);
        let mut crossed = 0;
        while crossed < n {
            if self.head == 0 {
                self.file = add(self.file, -(crossed as i32));
                self.block = 0;
                self.mark = Mark::None;
                return Err(Errno::Io);
            }
            self.head -= 1;
            if self.tape.get(self.head) == Some(&MObj::Mark) {
                crossed += 1;
            }
        }
        self.file = add(self.file, -(n as i32));
        self.block = -1;
        self.mark = Mark::None;
        Ok(())
    }

    /// MTFSR n.
    pub fn fsr(&mut self, n: u32) -> Result<(), Errno> {
        self.rw = Rw::Idle;
        for i in 0..n {
            match self.tape.get(self.head) {
                None => {
                    // st: the block it aimed at less what was not spaced,
                    // or unknown if that would be negative.
                    let aimed = if self.block >= 0 { self.block + n as i32 } else { self.block };
                    let undone = (n - i) as i32;
                    self.block = if aimed >= undone { aimed - undone } else { -1 };
                    self.mark = Mark::Eod;
                    return Err(Errno::Io);
                }
                Some(MObj::Mark) => {
                    self.head += 1;
                    self.file = add(self.file, 1);
                    self.block = 0;
                    self.mark = Mark::AfterFm;
                    return Err(Errno::Io);
                }
                Some(MObj::Rec(_)) => self.head += 1,
            }
        }
        self.block = add(self.block, n as i32);
        self.mark = Mark::None;
        Ok(())
    }

    /// MTBSR n.
    pub fn bsr(&mut self, n: u32) -> Result<(), Errno> {
        self.rw = Rw::Idle;
        for i in 0..n {
            if self.head == 0 {
                // st's arithmetic: the block number it aimed at (counted
                // back only from a known one) plus what was not spaced.
                let aimed = if self.block >= 0 { self.block - n as i32 } else { self.block };
                self.block = aimed + (n - i) as i32;
                self.mark = Mark::None;
                return Err(Errno::Io);
            }
            if self.tape.get(self.head - 1) == Some(&MObj::Mark) {
                self.head -= 1;
                self.file = add(self.file, -1);
                self.block = -1;
                self.mark = Mark::None;
                return Err(Errno::Io);
            }
            self.head -= 1;
        }
        self.block = add(self.block, -(n as i32));
        self.mark = Mark::None;
        Ok(())
    }

    /// MTREW.
    pub fn rewind(&mut self) -> Result<(), Errno> {
        self.close_file_if_writing()?;
        self.rewind_only();
        Ok(())
    }

    /// MTEOM: to the end of data, counting the files passed.
    pub fn eod(&mut self) -> Result<(), Errno> {
        self.rw = Rw::Idle;
        while let Some(o) = self.tape.get(self.head) {
            if *o == MObj::Mark {
                self.file = add(self.file, 1);
            }
            self.head += 1;
        }
        self.block = -1;
        self.mark = Mark::Eod;
        Ok(())
    }

    /// MTIOCGET.
    pub fn status(&self) -> MStatus {
        MStatus {
            file: self.file,
            block: self.block,
            bot: self.file == 0 && self.block == 0,
            eof: self.file != 0 && self.block == 0,
            eot: matches!(self.mark, Mark::WarnNext),
            eod: matches!(self.mark, Mark::WarnAllow | Mark::EodOnce | Mark::Eod),
        }
    }
}
