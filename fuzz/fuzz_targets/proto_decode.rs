//! The protocol decoders and the reply boundary on arbitrary bytes: decoding
//! never panics, a decoded frame encodes back to the same bytes, and the
//! boundary's verdict on a reply is consistent with what the engine relies
//! on (a run it accepts parses record by record to exactly its length).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pmt::boundary;
use pmt::proto::{Rep, Req, REP_SIZE, REQ_SIZE};

fuzz_target!(|data: &[u8]| {
    if data.len() < REQ_SIZE + REP_SIZE {
        return;
    }
    let (rq, rest) = data.split_at(REQ_SIZE);
    let (rp, payload) = rest.split_at(REP_SIZE);
    let req = Req::from_bytes(rq);
    let rep = Rep::from_bytes(rp);
    assert_eq!(&req.to_bytes()[..], rq, "a request encodes back to its bytes");
    assert_eq!(&rep.to_bytes()[..], rp, "a reply encodes back to its bytes");
    if boundary::check_reply(&req, &rep, payload.len()).is_ok() && boundary::check_data(&req, &rep, pmt::chan::Data::Frame(payload)).is_ok() {
        // What the engine does with an accepted run: every record parses.
        if req.op() == Some(pmt::proto::Op::ReadRun) && !req.flags().contains(pmt::proto::ReqFlags::FIXED) && rep.sense == 0 {
            let mut off = 0;
            let mut n = 0i64;
            while off < payload.len() {
                let (data, frame) = pmt::proto::run::first(&payload[off..]).expect("an accepted run parses");
                assert!(!data.is_empty() && frame <= payload.len() - off);
                off += frame;
                n += 1;
            }
            assert_eq!(n, i64::from(req.count) - rep.resid);
        }
        assert!(payload.len() as u64 <= req.length, "no data beyond the request");
    }
});
