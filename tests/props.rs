//! Property tests: random sequences of tape operations run through the pmt
//! core and the pmtd drive (with a simulated glue) and through the reference
//! model (tests/model.rs); every result, errno, read and status must agree,
//! and so must the tape left behind.

use pmt::abi::linux::{gmt, op};
use pmt::{Config, Errno, OpenFlags};
use pmt_tests::model::{MObj, Model};
use pmt_tests::{objects, record, Sim};
use pmtd::media::image::ImageOptions;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Write(usize),
    Read(usize),
    Weof(u32),
    Fsf(u32),
    Bsf(u32),
    Fsr(u32),
    Bsr(u32),
    Rewind,
    Eod,
    Status,
    /// Close, then open again on the rewinding (true) or no-rewind node,
    /// read-only or not.
    Reopen { rewind: bool, readonly: bool },
}

fn op(writes: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        writes => (1usize..3000).prop_map(Op::Write),
        4 => prop_oneof![Just(16usize), Just(1000), Just(4096)].prop_map(Op::Read),
        1 => (0u32..3).prop_map(Op::Weof),
        2 => (0u32..4).prop_map(Op::Fsf),
        2 => (0u32..4).prop_map(Op::Bsf),
        2 => (0u32..4).prop_map(Op::Fsr),
        2 => (0u32..4).prop_map(Op::Bsr),
        1 => Just(Op::Rewind),
        1 => Just(Op::Eod),
        3 => Just(Op::Status),
        1 => (any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(rewind, readonly)| Op::Reopen { rewind, readonly }),
    ]
}

fn flags(rewind: bool, readonly: bool) -> OpenFlags {
    OpenFlags { read: true, write: !readonly, nonblock: false, norewind: !rewind }
}

fn mt(sim: &Sim, op: i16, n: u32) -> Result<(), Errno> {
    sim.mt(op, n as i32)
}

fn check_status(sim: &Sim, model: &Model, step: usize) -> Result<(), TestCaseError> {
    let s = sim.status().map_err(|e| TestCaseError::fail(format!("step {step}: status {e:?}")))?;
    let m = model.status();
    let got = (s.fileno, s.blkno, s.gstat & gmt::BOT != 0, s.gstat & gmt::EOF != 0, s.gstat & gmt::EOT != 0, s.gstat & gmt::EOD != 0);
    let want = (m.file, m.block, m.bot, m.eof, m.eot, m.eod);
    prop_assert_eq!(got, want, "step {}: (file, block, BOT, EOF, EOT, EOD)", step);
    Ok(())
}

fn run(ops: &[Op], capacity: Option<u64>, ew: u64) -> Result<(), TestCaseError> {
    let cfg = ImageOptions { capacity, early_warning: ew, ..ImageOptions::default() };
    let sim = Sim::new(&["p.tap"], cfg, Config { ring: 16, window: 8 * 1024, ..Config::default() });
    let mut model = Model::new(capacity, ew);
    let (mut rewind, mut readonly) = (true, false);
    sim.open(flags(rewind, readonly)).map_err(|e| TestCaseError::fail(format!("open {e:?}")))?;
    model.open(readonly);
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Write(len) => {
                let data = record(step, len);
                prop_assert_eq!(sim.write(&data), model.write(&data), "step {}: {:?}", step, op);
            }
            Op::Read(n) => prop_assert_eq!(sim.read(n), model.read(n), "step {}: {:?}", step, op),
            Op::Weof(n) => prop_assert_eq!(mt(&sim, op::WEOF, n), model.weof(n), "step {}: {:?}", step, op),
            Op::Fsf(n) => prop_assert_eq!(mt(&sim, op::FSF, n), model.fsf(n), "step {}: {:?}", step, op),
            Op::Bsf(n) => prop_assert_eq!(mt(&sim, op::BSF, n), model.bsf(n), "step {}: {:?}", step, op),
            Op::Fsr(n) => prop_assert_eq!(mt(&sim, op::FSR, n), model.fsr(n), "step {}: {:?}", step, op),
            Op::Bsr(n) => prop_assert_eq!(mt(&sim, op::BSR, n), model.bsr(n), "step {}: {:?}", step, op),
            Op::Rewind => prop_assert_eq!(mt(&sim, op::REW, 1), model.rewind(), "step {}: {:?}", step, op),
            Op::Eod => prop_assert_eq!(mt(&sim, op::EOM, 1), model.eod(), "step {}: {:?}", step, op),
            Op::Status => check_status(&sim, &model, step)?,
            Op::Reopen { rewind: r, readonly: ro } => {
                prop_assert_eq!(sim.close(), model.close(rewind), "step {}: close", step);
                rewind = r;
                readonly = ro;
                prop_assert_eq!(sim.open(flags(rewind, readonly)), Ok(()), "step {}: open", step);
                model.open(readonly);
            }
        }
    }
    check_status(&sim, &model, ops.len())?;
    prop_assert_eq!(sim.close(), model.close(rewind), "final close");
    let want: Vec<u32> = model
        .tape
        .iter()
        .map(|o| match o {
            MObj::Rec(d) => d.len() as u32,
            MObj::Mark => 0,
        })
        .collect();
    prop_assert_eq!(objects(&sim.image("p.tap")), want, "the tape left behind");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn unlimited_tape_agrees_with_the_model(ops in prop::collection::vec(op(6), 1..40)) {
        run(&ops, None, 0)?;
    }

    /// A tape that fills up: early warning after about six records, the end
    /// of medium two or three later.
    #[test]
    fn small_tape_with_early_warning_agrees_with_the_model(ops in prop::collection::vec(op(20), 1..50)) {
        run(&ops, Some(12 * 1024), 4 * 1024)?;
    }
}
