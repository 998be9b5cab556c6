//! Links the rump kernel and the pmt component when scripts/rump-test gives
//! their folders (PMT_RUMP_LIB: the rump kernel's dest/lib; PMT_RUMP_COMPONENT:
//! the folder of librumpdev_pmt.so). Without them the program is built
//! without the rump kernel (`cargo build --workspace` on any machine) and
//! says so when run.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(rump)");
    println!("cargo:rerun-if-env-changed=PMT_RUMP_LIB");
    println!("cargo:rerun-if-env-changed=PMT_RUMP_COMPONENT");
    let (Ok(lib), Ok(comp)) = (std::env::var("PMT_RUMP_LIB"), std::env::var("PMT_RUMP_COMPONENT")) else {
        return;
    };
    println!("cargo:rerun-if-changed={comp}/librumpdev_pmt.so");
    println!("cargo:rustc-cfg=rump");
    for dir in [&comp, &lib] {
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    // The component and the factions are only reached through their
    // constructors (rump_init finds them): linked without --as-needed.
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    for l in ["rumpdev_pmt", "rumpdev", "rumpvfs", "rump", "rumpuser", "pthread", "dl"] {
        println!("cargo:rustc-link-arg=-l{l}");
    }
}
