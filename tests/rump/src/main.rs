//! pmt's NetBSD glue (sys/dev/pmt/pmt_netbsd.c) and the real Rust core,
//! built as a rump kernel component (librumpdev_pmt), run inside NetBSD's
//! own kernel code on this Linux host. Master and slave are driven through
//! rump_sys_open/read/write/ioctl/poll/kevent with NetBSD's numbering; the
//! slave is served by pmtd's drive. Built and run by scripts/rump-test.
//! Prints one PASS/FAIL line per scenario and "N passed, N failed".

#[cfg(rump)]
mod changer;
#[cfg(rump)]
mod daemon;
#[cfg(rump)]
mod pair;
#[cfg(rump)]
mod signals;
#[cfg(rump)]
mod strules;
#[cfg(rump)]
mod sys;
#[cfg(rump)]
mod tape;

/// Fails the scenario with the line and a message unless `cond` holds.
#[cfg(rump)]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!("line {}: {}", line!(), format!($($fmt)*)));
        }
    };
}

/// Fails the scenario unless the two values are equal.
#[cfg(rump)]
macro_rules! eq {
    ($a:expr, $b:expr) => {
        eq!($a, $b, "")
    };
    ($a:expr, $b:expr, $why:expr) => {
        // A match keeps the temporaries of both sides alive (as assert_eq!).
        match (&$a, &$b) {
            (a, b) => {
                if a != b {
                    return Err(format!("line {}: {} is {:?}, expected {:?} {}", line!(), stringify!($a), a, b, $why));
                }
            }
        }
    };
}

#[cfg(rump)]
pub(crate) use {ensure, eq};

/// A scenario: Ok, or what went wrong.
#[cfg(rump)]
pub type Outcome = Result<(), String>;

/// A named scenario.
#[cfg(rump)]
pub type Scenario = (&'static str, fn() -> Outcome);

/// Turns a NetBSD errno into the scenario's error, naming the call.
#[cfg(rump)]
pub trait Ctx<T> {
    /// `what: errno N` on error.
    fn at(self, what: &str) -> Result<T, String>;
}

#[cfg(rump)]
impl<T> Ctx<T> for Result<T, sys::Errno> {
    fn at(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: errno {e}"))
    }
}

#[cfg(not(rump))]
fn main() {
    eprintln!("pmt-rump-test was built without the rump kernel: build and run it with scripts/rump-test");
    std::process::exit(2);
}

#[cfg(rump)]
fn main() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let only: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = sys::init() {
        println!("FAIL rump-init (error {e})");
        println!("0 passed, 1 failed");
        std::process::exit(1);
    }
    let mut all: Vec<Scenario> = Vec::new();
    all.extend_from_slice(tape::SCENARIOS);
    all.extend_from_slice(strules::SCENARIOS);
    all.extend_from_slice(signals::SCENARIOS);
    all.extend_from_slice(changer::SCENARIOS);
    // The module unload and reload last: they end the driver.
    all.extend_from_slice(pair::SCENARIOS);

    // A scenario that hangs fails the run instead of stopping it forever.
    let start = Instant::now();
    let deadline = Arc::new(AtomicU64::new(u64::MAX));
    let current = Arc::new(Mutex::new(String::new()));
    {
        let (deadline, current) = (Arc::clone(&deadline), Arc::clone(&current));
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            if start.elapsed().as_millis() as u64 > deadline.load(Ordering::SeqCst) {
                let name = current.lock().map(|c| c.clone()).unwrap_or_default();
                println!("FAIL {name} (timed out: a call never returned)");
                println!("timed out");
                std::process::exit(1);
            }
        });
    }

    let (mut passed, mut failed) = (0, 0);
    for (name, f) in all {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        if let Ok(mut c) = current.lock() {
            *c = name.to_string();
        }
        deadline.store(start.elapsed().as_millis() as u64 + 60_000, Ordering::SeqCst);
        let t = Instant::now();
        let r = std::panic::catch_unwind(f).unwrap_or_else(|_| Err("panicked".to_string()));
        match r {
            Ok(()) => {
                passed += 1;
                println!("PASS {name} ({} ms)", t.elapsed().as_millis());
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: {e}");
            }
        }
    }
    deadline.store(u64::MAX, Ordering::SeqCst);
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
