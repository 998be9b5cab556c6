//! Motions of a [`DeviceMedium`]: spacing, end of data, locate. In the exact
//! mode (MTIOCPOS works) the device moves and the address is read back; in
//! the counted mode the medium's map of the objects seen from BOT turns
//! every motion into exact counts, and reads forward beyond it.

use std::io;

use pmt::abi::linux::{gmt, op};

use super::medium::DeviceMedium;
use super::{MtStatus, StDevice};
use crate::media::{MediumError, Object, Stop};

/// The objects of the tape from BOT as far as they were seen: which
/// addresses below `covered` are marks.
#[derive(Debug, Default)]
pub struct ObjMap {
    marks: Vec<u64>,
    covered: u64,
}

impl ObjMap {
    /// The object at `at` was seen (a mark or a record).
    pub fn learn(&mut self, at: u64, mark: bool) {
        if at == self.covered {
            self.covered += 1;
            if mark {
                self.marks.push(at);
            }
        }
    }

    /// An object was written at `at` (Some(is a mark)), or the tape was
    /// erased there (None): everything after it is gone.
    pub fn cut(&mut self, at: u64, written: Option<bool>) {
        let k = self.marks.partition_point(|&m| m < at);
        self.marks.truncate(k);
        if at <= self.covered {
            self.covered = at;
            if let Some(mark) = written {
                self.learn(at, mark);
            }
        }
    }

    /// Whether the object at `at` is a mark, if it was seen.
    pub fn is_mark(&self, at: u64) -> Option<bool> {
        (at < self.covered).then(|| self.marks.binary_search(&at).is_ok())
    }

    /// The marks in `[a, b)`.
    pub fn marks_in(&self, a: u64, b: u64) -> &[u64] {
        let i = self.marks.partition_point(|&m| m < a);
        let j = self.marks.partition_point(|&m| m < b);
        &self.marks[i..j.max(i)]
    }

    /// Objects seen from BOT.
    pub fn covered(&self) -> u64 {
        self.covered
    }
}

fn count(n: u64) -> Result<i32, io::Error> {
    i32::try_from(n).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl<D: StDevice> DeviceMedium<D> {
    /// One device motion in the counted mode: any failure loses the position.
    fn step(&mut self, op: i16, n: u64) -> Result<(), MediumError> {
        if n == 0 {
            return Ok(());
        }
        let r = count(n).and_then(|c| self.dev.mtop(op, c));
        r.map_err(|e| self.lose(format!("MTIOCTOP {op} {n}: {e}")))
    }

    /// The address from MTIOCPOS after a motion (exact mode).
    fn tell(&mut self, what: &str) -> Result<u64, MediumError> {
        match self.dev.mtpos() {
            Ok(p) => {
                self.pos = p;
                Ok(p)
            }
            Err(e) => Err(self.lose(format!("MTIOCPOS after {what}: {e}"))),
        }
    }

    /// A failed motion: an error unless the device is still there. Returns
    /// the status right after it (before MTIOCPOS, which may change st's
    /// counters), if the device has one.
    fn failed(&mut self, e: io::Error) -> Result<Option<MtStatus>, MediumError> {
        if !errno_is(&e, libc::EIO) {
            return Err(self.err(e));
        }
        match self.dev.mtget() {
            Ok(s) if s.has(gmt::ONLINE) => Ok(Some(s)),
            Err(x) if x.kind() == io::ErrorKind::Unsupported => Ok(None),
            _ => Err(self.err(e)),
        }
    }

    fn fileno(&mut self) -> Option<i32> {
        if !self.has_status {
            return None;
        }
        self.dev.mtget().ok().map(|s| s.fileno).filter(|&f| f >= 0)
    }


    /// Counted mode: moves to `addr`, which the map covers.
    fn move_to(&mut self, addr: u64) -> Result<(), MediumError> {
        let p = self.pos;
        if addr == p {
            return Ok(());
        }
        if addr == 0 {
            self.step(op::REW, 1)?;
        } else if addr > p {
            let marks = self.map.marks_in(p, addr);
            if let Some(&last) = marks.last() {
                let k = marks.len() as u64;
                self.step(op::FSF, k)?;
                self.step(op::FSR, addr - (last + 1))?;
            } else {
                self.step(op::FSR, addr - p)?;
            }
        } else {
            let marks = self.map.marks_in(addr, p);
            if let Some(&first) = marks.first() {
                let k = marks.len() as u64;
                self.step(op::BSF, k)?;
                self.step(op::BSR, first - addr)?;
            } else {
                self.step(op::BSR, p - addr)?;
            }
        }
        self.pos = addr;
        // st is just past a filemark when the object before is one.
        self.st_fm = addr > 0 && self.map.is_mark(addr - 1) == Some(true);
        Ok(())
    }

    /// Counted mode: the map must reach the position.
    fn covered_here(&mut self) -> Result<(), MediumError> {
        if self.map.covered() < self.pos {
            return Err(self.lose("the objects before the position were not seen".into()));
        }
        Ok(())
    }

    /// A motion: the position must be known and st's writing state is
    /// ended first; early warning is read again after.
    fn motion<T>(&mut self, go: impl FnOnce(&mut Self) -> Result<T, MediumError>) -> Result<T, MediumError> {
        self.check_pos()?;
        self.settle()?;
        let r = go(self);
        self.refresh_ew();
        r
    }

    pub(super) fn nav_space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        if n == 0 {
            return self.check_pos().map(|()| (0, Stop::Done));
        }
        self.motion(|m| if m.exact { m.exact_space_records(n) } else { m.counted_space_records(n > 0, n.unsigned_abs()) })
    }

    fn exact_space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        let want = n.unsigned_abs();
        let p = self.pos;
        if n < 0 && p == 0 {
            return Ok((0, Stop::Bot));
        }
        let opn = if n > 0 { op::FSR } else { op::BSR };
        let c = count(want).map_err(|e| self.err(e))?;
        match self.dev.mtop(opn, c) {
            Ok(()) => {
                self.pos = if n > 0 { p + want } else { p.saturating_sub(want) };
                self.st_fm = false;
                Ok((want, Stop::Done))
            }
            Err(e) => {
                let st = self.failed(e)?;
                let has = |bits: u32| st.is_some_and(|s| s.has(bits));
                let t = self.tell("record spacing")?;
                if n > 0 {
                    let crossed = t.saturating_sub(p);
                    if has(gmt::EOD) {
                        self.eod = Some(t);
                        self.st_fm = false;
                        Ok((crossed, Stop::Eod))
                    } else if crossed > 0 {
                        self.st_fm = true;
                        Ok((crossed - 1, Stop::Mark))
                    } else {
                        Err(self.err(io::Error::other("forward record spacing failed without moving")))
                    }
                } else {
                    let crossed = p.saturating_sub(t);
                    self.st_fm = false;
                    let known = st.is_some_and(|s| s.fileno >= 0);
                    if t == 0 && crossed > 0 && (if known { has(gmt::BOT) } else { !self.mark_at_bot()? }) {
                        Ok((crossed, Stop::Bot))
                    } else if crossed > 0 {
                        Ok((crossed - 1, Stop::Mark))
                    } else {
                        Err(self.err(io::Error::other("backward record spacing failed without moving")))
                    }
                }
            }
        }
    }

    fn counted_space_records(&mut self, forward: bool, want: u64) -> Result<(u64, Stop), MediumError> {
        self.covered_here()?;
        let mut crossed = 0;
        while crossed < want {
            let p = self.pos;
            if forward {
                if p < self.map.covered() {
                    let end = self.eod.map_or(self.map.covered(), |e| e.min(self.map.covered()));
                    if p >= end {
                        return Ok((crossed, Stop::Eod));
                    }
                    let next_mark = self.map.marks_in(p, end).first().copied();
                    match next_mark {
                        Some(m) if m == p => {
                            self.step(op::FSF, 1)?;
                            self.pos = p + 1;
                            self.st_fm = true;
                            return Ok((crossed, Stop::Mark));
                        }
                        _ => {
                            let avail = next_mark.unwrap_or(end) - p;
                            let take = avail.min(want - crossed);
                            self.step(op::FSR, take)?;
                            self.pos = p + take;
                            self.st_fm = false;
                            crossed += take;
                        }
                    }
                } else {
                    match self.next_object()? {
                        Object::Record(_) | Object::Bad => crossed += 1,
                        Object::Mark => return Ok((crossed, Stop::Mark)),
                        Object::Eod => return Ok((crossed, Stop::Eod)),
                    }
                }
            } else {
                if p == 0 {
                    return Ok((crossed, Stop::Bot));
                }
                let prev_mark = self.map.marks_in(0, p).last().copied();
                let avail = p - prev_mark.map_or(0, |m| m + 1);
                if avail == 0 {
                    // The object before is a mark: cross it, stop before it.
                    self.step(op::BSF, 1)?;
                    self.pos = p - 1;
                    self.st_fm = false;
                    return Ok((crossed, Stop::Mark));
                }
                let take = avail.min(want - crossed);
                self.step(op::BSR, take)?;
                self.pos = p - take;
                self.st_fm = self.pos > 0 && self.map.is_mark(self.pos - 1) == Some(true);
                crossed += take;
            }
        }
        Ok((crossed, Stop::Done))
    }

    pub(super) fn nav_space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        if n == 0 {
            return self.check_pos().map(|()| (0, Stop::Done));
        }
        self.motion(|m| if m.exact { m.exact_space_marks(n) } else { m.counted_space_marks(n > 0, n.unsigned_abs()) })
    }

    /// At BOT with st's counters unknown: whether object 0 is a mark (read
    /// it, then rewind).
    fn mark_at_bot(&mut self) -> Result<bool, MediumError> {
        let mut b = vec![0u8; self.max_block()];
        let r = self.dev.read(&mut b);
        self.dev.mtop(op::REW, 1).map_err(|e| self.lose(format!("rewinding after a look at BOT: {e}")))?;
        self.pos = 0;
        Ok(matches!(r, Ok(0)))
    }

    fn exact_space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        let want = n.unsigned_abs();
        if n < 0 && self.pos == 0 {
            return Ok((0, Stop::Bot));
        }
        let before = self.fileno();
        if before.is_none() && want > 1 {
            // st's file number is unknown (after MTSEEK): one mark at a
            // time, so the count crossed is known.
            let one = if n > 0 { 1 } else { -1 };
            for done in 0..want {
                let (k, stop) = self.exact_space_marks(one)?;
                if k == 0 {
                    return Ok((done, stop));
                }
            }
            return Ok((want, Stop::Done));
        }
        let opn = if n > 0 { op::FSF } else { op::BSF };
        let c = count(want).map_err(|e| self.err(e))?;
        match self.dev.mtop(opn, c) {
            Ok(()) => {
                self.tell("filemark spacing")?;
                self.st_fm = n > 0;
                Ok((want, Stop::Done))
            }
            Err(e) => {
                let st = self.failed(e)?;
                let after = st.map(|s| s.fileno).filter(|&f| f >= 0);
                let t = self.tell("filemark spacing")?;
                let crossed = match (before, after) {
                    (Some(b), Some(a)) => u64::from(a.abs_diff(b)),
                    // One mark asked (the file number unknown): none crossed.
                    _ => 0,
                };
                self.st_fm = false;
                if n > 0 {
                    self.eod = Some(t);
                    Ok((crossed, Stop::Eod))
                } else {
                    Ok((crossed, Stop::Bot))
                }
            }
        }
    }

    fn counted_space_marks(&mut self, forward: bool, want: u64) -> Result<(u64, Stop), MediumError> {
        self.covered_here()?;
        let mut crossed = 0;
        while crossed < want {
            let p = self.pos;
            if forward {
                if p < self.map.covered() {
                    let cov = self.map.covered();
                    let ahead = self.map.marks_in(p, cov);
                    if ahead.is_empty() {
                        self.move_to(cov)?;
                        continue;
                    }
                    let take = (ahead.len() as u64).min(want - crossed);
                    let target = ahead[take as usize - 1];
                    self.step(op::FSF, take)?;
                    self.pos = target + 1;
                    self.st_fm = true;
                    crossed += take;
                } else {
                    match self.next_object()? {
                        Object::Mark => crossed += 1,
                        Object::Record(_) | Object::Bad => {}
                        Object::Eod => return Ok((crossed, Stop::Eod)),
                    }
                }
            } else {
                if p == 0 {
                    return Ok((crossed, Stop::Bot));
                }
                let behind = self.map.marks_in(0, p);
                if behind.is_empty() {
                    self.move_to(0)?;
                    return Ok((crossed, Stop::Bot));
                }
                let take = (behind.len() as u64).min(want - crossed);
                let target = behind[behind.len() - take as usize];
                self.step(op::BSF, take)?;
                self.pos = target;
                self.st_fm = false;
                crossed += take;
            }
        }
        Ok((crossed, Stop::Done))
    }

    pub(super) fn nav_space_eod(&mut self) -> Result<(), MediumError> {
        self.motion(|m| if m.exact { m.exact_space_eod() } else { m.counted_space_eod() })
    }

    fn exact_space_eod(&mut self) -> Result<(), MediumError> {
        self.dev.mtop(op::EOM, 1).map_err(|e| self.err(e))?;
        let t = self.tell("MTEOM")?;
        self.eod = Some(t);
        self.st_fm = false;
        Ok(())
    }

    fn counted_space_eod(&mut self) -> Result<(), MediumError> {
        self.covered_here()?;
        match self.eod {
            Some(e) if e <= self.map.covered() => self.move_to(e),
            _ => {
                let cov = self.map.covered();
                self.move_to(cov)?;
                while self.next_object()? != Object::Eod {}
                Ok(())
            }
        }
    }

    pub(super) fn nav_locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        self.motion(|m| if m.exact { m.exact_locate(addr) } else { m.counted_locate(addr) })
    }

    fn exact_locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        let c = count(addr).map_err(|_| MediumError::Unsupported {
            medium: self.name_string(),
            what: format!("locating address {addr} (MTSEEK takes 31 bits)"),
        })?;
        let r = self.dev.mtop(op::SEEK, c);
        if let Err(e) = r {
            self.failed(e)?;
        }
        let t = self.tell("MTSEEK")?;
        self.st_fm = false;
        if t < addr {
            self.eod = Some(t);
            return Ok(Stop::Eod);
        }
        Ok(Stop::Done)
    }

    fn counted_locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        self.covered_here()?;
        let cov = self.map.covered();
        if addr <= cov && self.eod.is_none_or(|e| addr <= e) {
            self.move_to(addr)?;
            return Ok(Stop::Done);
        }
        let start = self.eod.map_or(cov, |e| e.min(cov));
        self.move_to(start)?;
        while self.pos < addr {
            if self.next_object()? == Object::Eod {
                return Ok(Stop::Eod);
            }
        }
        Ok(Stop::Done)
    }

    fn name_string(&self) -> String {
        crate::media::Medium::name(self)
    }
}

fn errno_is(e: &io::Error, n: i32) -> bool {
    e.raw_os_error() == Some(n)
}

#[cfg(test)]
mod tests {
    use super::ObjMap;

    #[test]
    fn map_learns_from_bot_and_cuts_on_write() {
        let mut m = ObjMap::default();
        for (i, mark) in [false, false, true, false, true].into_iter().enumerate() {
            m.learn(i as u64, mark);
        }
        m.learn(9, true); // not contiguous: ignored
        assert_eq!(m.covered(), 5);
        assert_eq!(m.marks_in(0, 5), &[2, 4]);
        assert_eq!(m.is_mark(2), Some(true));
        assert_eq!(m.is_mark(3), Some(false));
        assert_eq!(m.is_mark(5), None);
        m.cut(3, Some(true));
        assert_eq!((m.covered(), m.marks_in(0, 9)), (4, &[2u64, 3][..]));
        m.cut(1, None);
        assert_eq!((m.covered(), m.marks_in(0, 9)), (1, &[][..]));
    }
}
