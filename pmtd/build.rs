//! Builds the C side of the CUSE host (cuse/shim.c) against libfuse3,
//! found through pkg-config (Debian: libfuse3-dev).

fn main() {
    println!("cargo:rerun-if-changed=cuse/shim.c");
    let fuse = match pkg_config::Config::new().atleast_version("3.12").probe("fuse3") {
        Ok(lib) => lib,
        Err(e) => panic!("pmtd needs libfuse3 (3.12 or later) for its CUSE devices; on Debian: apt-get install libfuse3-dev pkg-config ({e})"),
    };
    let mut cc = cc::Build::new();
    cc.file("cuse/shim.c").warnings(true).extra_warnings(true).flag_if_supported("-Werror");
    for p in &fuse.include_paths {
        cc.include(p);
    }
    cc.compile("pmt_cuse_shim");
}
