//! A mirror of N media, and a volume sequence that changes the volume of every
//! member at once.
//!
//! Every record and tape mark goes to every member, so the copies are
//! record-for-record identical. The room the mirror reports is the smallest
//! of its members' ([`Room::min`]): the first member to reach early warning
//! ends the volume for all, while the data still fits on every copy; what
//! follows (trailers, the closing marks) still reaches every member. A
//! member that refuses an object at its physical end after others stored it
//! makes those take it back ([`Medium::undo_last`]) and the mirror reports
//! the overflow: copies never diverge. A member that does not say how far
//! its early warning is bounds the data in flight to what its zone holds
//! ([`in_flight_limit`]).
//!
//! Reads come from the first member; the others do not move for reads, and
//! are brought to the same position ([`Medium::locate`]) before anything is
//! written and after every motion. After reads (and before the next motion
//! or write) the room of the other members is the one they had where they
//! stand.
//!
//! A member that fails makes the operation fail. With `degraded`, the
//! mirror drops the failing member instead, with an `error!` log line
//! naming it and the cause, and goes on with the others; when no other
//! member is left, the operation fails.

use std::fmt;

use tracing::{error, warn};

use crate::media::{DynMedium, Medium, MediumError, Object, Room, Stop, Volumes, Written};

/// The members' rule for data in flight, for a mirror and for any medium
/// that writes to several media at once (the library mirror): the smallest
/// of the members' bounds ([`Medium::in_flight_limit`]). A member that does
/// not say how far its early warning is (a real drive, another pmt master)
/// bounds what the driver may hold unanswered to what its early-warning
/// zone can take, so the first copy to meet early warning can still store
/// everything in flight, and what follows, on every member.
pub fn in_flight_limit<'a, M: Medium + 'a>(members: impl IntoIterator<Item = &'a M>) -> Option<u64> {
    members.into_iter().filter_map(|m| m.in_flight_limit()).min()
}

/// One member: its number in the mirror as built (kept when others are
/// dropped) and its medium.
#[derive(Debug)]
struct Member<M> {
    index: usize,
    medium: M,
}

/// A mirror of media (see the module documentation).
pub struct Mirror<M: Medium = DynMedium> {
    members: Vec<Member<M>>,
    degraded: bool,
    /// Members dropped (degraded mode): their number and why.
    dropped: Vec<(usize, String)>,
}

impl<M: Medium> fmt::Debug for Mirror<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mirror").field("members", &self.name()).field("degraded", &self.degraded).finish()
    }
}

/// What a per-member operation gave on one member.
enum Outcome<T> {
    Ok(T),
    Overflow(MediumError),
    Failed(MediumError),
}

impl<M: Medium> Mirror<M> {
    /// A mirror of `members` (at least one), all at the same position.
    /// With `degraded`, a failing member is dropped instead of failing the
    /// operation.
    pub fn new(members: Vec<M>, degraded: bool) -> Result<Mirror<M>, MediumError> {
        if members.is_empty() {
            return Err(MediumError::Unsupported { medium: "mirror".into(), what: "a mirror of no member".into() });
        }
        let members = members.into_iter().enumerate().map(|(index, medium)| Member { index, medium }).collect();
        Ok(Mirror { members, degraded, dropped: Vec::new() })
    }

    /// The members left, in order, with their numbers in the mirror as
    /// built.
    pub fn members(&self) -> impl Iterator<Item = (usize, &M)> {
        self.members.iter().map(|m| (m.index, &m.medium))
    }

    /// The members dropped so far (degraded mode): number and cause.
    pub fn dropped(&self) -> &[(usize, String)] {
        &self.dropped
    }

    /// The members left, with their numbers.
    pub fn into_members(self) -> Vec<(usize, M)> {
        self.members.into_iter().map(|m| (m.index, m.medium)).collect()
    }

    /// The first member. The constructor refuses an empty mirror and the
    /// last member is never dropped, so there is one.
    fn primary(&self) -> &M {
        &self.members[0].medium
    }

    /// Handles the failure of member `i` (an index in `members`): drops it
    /// in degraded mode if others are left, else gives the error back.
    fn fail(&mut self, i: usize, e: MediumError) -> Result<(), MediumError> {
        if !self.degraded || self.members.len() < 2 {
            return Err(e);
        }
        let m = self.members.remove(i);
        error!(
            member = m.index + 1,
            medium = %m.medium.name(),
            left = self.members.len(),
            "mirror member failed, going on without it: {e}"
        );
        self.dropped.push((m.index, e.to_string()));
        Ok(())
    }

    /// Handles the failures of a per-member operation (indices in
    /// `members`, ascending). In degraded mode the failing members are
    /// dropped unless that would leave none.
    fn fail_all(&mut self, failed: Vec<(usize, MediumError)>) -> Result<(), MediumError> {
        if failed.is_empty() {
            return Ok(());
        }
        if !self.degraded || failed.len() >= self.members.len() {
            let mut failed = failed;
            return Err(failed.swap_remove(0).1);
        }
        for (i, e) in failed.into_iter().rev() {
            self.fail(i, e)?;
        }
        Ok(())
    }

    /// Brings every member to the first member's position.
    fn align(&mut self) -> Result<(), MediumError> {
        let target = self.primary().position();
        let mut i = 1;
        while i < self.members.len() {
            let m = &mut self.members[i].medium;
            let r = if m.position() == target {
                Ok(())
            } else {
                match m.locate(target) {
                    Ok(_) if m.position() == target => Ok(()),
                    Ok(_) => Err(MediumError::PositionLost {
                        medium: m.name(),
                        why: format!("it ends at object {}, the mirror is at {target}: the copies differ", m.position()),
                    }),
                    Err(e) => Err(e),
                }
            };
            match r {
                Ok(()) => i += 1,
                Err(e) => self.fail(i, e)?,
            }
        }
        Ok(())
    }

    /// Runs `op` on every member (aligned first).
    fn each<T>(&mut self, mut op: impl FnMut(&mut M) -> Result<T, MediumError>) -> Result<Vec<(usize, Outcome<T>)>, MediumError> {
        self.align()?;
        Ok(self
            .members
            .iter_mut()
            .enumerate()
            .map(|(i, m)| {
                let o = match op(&mut m.medium) {
                    Ok(t) => Outcome::Ok(t),
                    Err(e) if e.is_overflow() => Outcome::Overflow(e),
                    Err(e) => Outcome::Failed(e),
                };
                (i, o)
            })
            .collect())
    }

    /// Writes an object (record or mark) on every member, or on none.
    fn write_each(&mut self, mut op: impl FnMut(&mut M) -> Result<Written, MediumError>) -> Result<Written, MediumError> {
        let outcomes = self.each(&mut op)?;
        let mut early_warning = false;
        let mut stored = Vec::new();
        let mut overflow = None;
        let mut failed = Vec::new();
        for (i, o) in outcomes {
            match o {
                Outcome::Ok(w) => {
                    early_warning |= w.early_warning;
                    stored.push(i);
                }
                Outcome::Overflow(e) => {
                    overflow.get_or_insert(e);
                }
                Outcome::Failed(e) => failed.push((i, e)),
            }
        }
        let keep_going = self.degraded && failed.len() < self.members.len();
        if overflow.is_some() || !(failed.is_empty() || keep_going) {
            // Nobody keeps the object: take it back where it was stored.
            for &i in &stored {
                let m = &mut self.members[i].medium;
                if let Err(e) = m.undo_last() {
                    warn!(medium = %m.name(), "cannot take the last object back: {e}");
                    failed.push((i, e));
                }
            }
            failed.sort_by_key(|(i, _)| *i);
        }
        self.fail_all(failed)?;
        match overflow {
            Some(e) => Err(e),
            None => Ok(Written { early_warning }),
        }
    }

    /// Runs a motion on the first member, then brings the others there.
    fn motion<T>(&mut self, op: impl Fn(&mut M) -> Result<T, MediumError>) -> Result<T, MediumError> {
        let t = loop {
            let before = self.primary().position();
            match op(&mut self.members[0].medium) {
                Ok(t) => break t,
                Err(e) => {
                    self.fail(0, e)?;
                    // Degraded: the next member takes over from where the
                    // failed one stood.
                    self.members[0].medium.locate(before)?;
                }
            }
        };
        self.align()?;
        Ok(t)
    }

    /// Runs `op` on every member, then checks they stand at one position.
    fn everywhere(&mut self, op: impl Fn(&mut M) -> Result<(), MediumError>) -> Result<(), MediumError> {
        let mut failed = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if let Err(e) = op(&mut m.medium) {
                failed.push((i, e));
            }
        }
        self.fail_all(failed)?;
        self.align()
    }

    /// Reads from member `i` (an index in `members`) at `at`.
    fn read_from(&mut self, i: usize, at: u64, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        let m = &mut self.members[i].medium;
        if m.position() != at {
            m.locate(at)?;
        }
        let mark = buf.len();
        let r = m.read(buf, max);
        if r.is_err() {
            buf.truncate(mark);
        }
        r
    }
}

impl<M: Medium> Medium for Mirror<M> {
    fn name(&self) -> String {
        let names: Vec<String> = self.members.iter().map(|m| m.medium.name()).collect();
        format!("mirror({})", names.join(", "))
    }

    fn readonly(&self) -> bool {
        self.members.iter().any(|m| m.medium.readonly())
    }

    fn position(&self) -> u64 {
        self.primary().position()
    }

    fn at_bot(&self) -> bool {
        self.primary().at_bot()
    }

    fn at_eod(&self) -> Option<bool> {
        self.primary().at_eod()
    }

    fn room(&self) -> Room {
        self.members.iter().fold(Room::UNKNOWN, |r, m| r.min(m.medium.room()))
    }

    fn in_flight_limit(&self) -> Option<u64> {
        in_flight_limit(self.members.iter().map(|m| &m.medium))
    }

    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        self.write_each(|m| m.write_record(data))
    }

    fn write_mark(&mut self) -> Result<Written, MediumError> {
        self.write_each(|m| m.write_mark())
    }

    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        let at = self.primary().position();
        loop {
            match self.read_from(0, at, buf, max) {
                Ok(Object::Bad) => break,
                Ok(o) => return Ok(o),
                Err(e) => self.fail(0, e)?,
            }
        }
        // A bad record on the first member: another copy may be good.
        for i in 1..self.members.len() {
            match self.read_from(i, at, buf, max) {
                Ok(Object::Record(n)) => {
                    warn!(
                        medium = %self.members[0].medium.name(),
                        object = at,
                        "bad record; read from {} instead",
                        self.members[i].medium.name()
                    );
                    return Ok(Object::Record(n));
                }
                Ok(_) => {}
                Err(e) => warn!("{e}"),
            }
        }
        Ok(Object::Bad)
    }

    fn read_run(&mut self, out: &mut Vec<u8>, count: usize, budget: usize, exact: Option<usize>) -> Result<usize, MediumError> {
        // From the first member, as plain reads; the others follow at the
        // next write. Trouble of any kind reads nothing ahead: the plain
        // read then meets it, with the mirror's fallbacks.
        let at = self.primary().position();
        let m = &mut self.members[0].medium;
        if m.position() != at {
            return Ok(0);
        }
        let mark = out.len();
        match m.read_run(out, count, budget, exact) {
            Ok(n) => Ok(n),
            Err(e) => {
                out.truncate(mark);
                warn!("{e}; no read-ahead");
                Ok(0)
            }
        }
    }

    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        self.motion(|m| m.space_records(n))
    }

    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        self.motion(|m| m.space_marks(n))
    }

    fn space_eod(&mut self) -> Result<(), MediumError> {
        self.everywhere(|m| m.space_eod())
    }

    fn rewind(&mut self) -> Result<(), MediumError> {
        self.everywhere(|m| m.rewind())
    }

    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        self.motion(|m| m.locate(addr))
    }

    fn erase(&mut self) -> Result<(), MediumError> {
        self.align()?;
        self.everywhere(|m| m.erase())
    }

    fn sync(&mut self) -> Result<(), MediumError> {
        let mut failed = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if let Err(e) = m.medium.sync() {
                failed.push((i, e));
            }
        }
        self.fail_all(failed)
    }

    fn undo_last(&mut self) -> Result<(), MediumError> {
        self.align()?;
        self.everywhere(|m| m.undo_last())
    }
}

/// A volume sequence of mirrors: every member volume sequence loads its next volume at
/// once, so volume N of every copy holds the same data.
pub struct MirrorVolumes<C: Volumes> {
    /// The member volume sequences left, with their numbers.
    members: Vec<(usize, C)>,
    degraded: bool,
    loaded: usize,
}

impl<C: Volumes> fmt::Debug for MirrorVolumes<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorVolumes").field("members", &self.members.len()).field("loaded", &self.loaded).finish()
    }
}

impl<C: Volumes> MirrorVolumes<C> {
    /// A volume sequence of mirrors of `members`' volumes (at least one member).
    pub fn new(members: Vec<C>, degraded: bool) -> Result<MirrorVolumes<C>, MediumError> {
        if members.is_empty() {
            return Err(MediumError::Unsupported { medium: "mirror".into(), what: "a mirror of no member".into() });
        }
        Ok(MirrorVolumes { members: members.into_iter().enumerate().collect(), degraded, loaded: 0 })
    }

    /// The numbers of the member volume sequences left.
    pub fn members(&self) -> Vec<usize> {
        self.members.iter().map(|(i, _)| *i).collect()
    }
}

impl<C: Volumes> Volumes for MirrorVolumes<C> {
    type Medium = Mirror<C::Medium>;

    fn load_next(&mut self) -> Result<Option<Mirror<C::Medium>>, MediumError> {
        if !self.has_next() {
            return Ok(None);
        }
        let mut media = Vec::new();
        let mut failed = Vec::new();
        for (k, (index, c)) in self.members.iter_mut().enumerate() {
            match c.load_next() {
                Ok(Some(m)) => media.push(Member { index: *index, medium: m }),
                Ok(None) => failed.push((k, MediumError::Unsupported { medium: format!("mirror member {}", *index + 1), what: "no volume left".into() })),
                Err(e) => failed.push((k, e)),
            }
        }
        if !failed.is_empty() && (!self.degraded || media.is_empty()) {
            // Put back what was loaded: the mirror loads on all or none.
            for m in media {
                if let Some((_, c)) = self.members.iter_mut().find(|(i, _)| *i == m.index) {
                    if let Err(e) = c.unload(m.medium) {
                        warn!("{e}");
                    }
                }
            }
            return Err(failed.swap_remove(0).1);
        }
        for (k, e) in failed.into_iter().rev() {
            let (index, _) = self.members.remove(k);
            error!(member = index + 1, "mirror member failed to load its next volume, going on without it: {e}");
        }
        self.loaded += 1;
        Ok(Some(Mirror { members: media, degraded: self.degraded, dropped: Vec::new() }))
    }

    fn unload(&mut self, mirror: Mirror<C::Medium>) -> Result<(), MediumError> {
        for (index, why) in &mirror.dropped {
            self.members.retain(|(i, _)| i != index);
            warn!(member = index + 1, "mirror member left out of the next volumes: {why}");
        }
        let mut first = None;
        for m in mirror.members {
            if let Some((_, c)) = self.members.iter_mut().find(|(i, _)| *i == m.index) {
                if let Err(e) = c.unload(m.medium) {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn has_next(&self) -> bool {
        self.members.iter().all(|(_, c)| c.has_next())
    }

    fn volume(&self) -> Option<usize> {
        (self.loaded > 0).then_some(self.loaded)
    }
}
