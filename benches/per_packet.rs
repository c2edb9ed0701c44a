//! Criterion microbenchmarks of the SFU's pure per-packet parts: the down-track header rewrite
//! (steady state and a source switch), the fan-out decision (readiness check, clone, bounded
//! queue offer) to 1, 25 and 150 down-tracks, and the loss counter of the receive path.
//! Run: `cargo bench --bench per_packet` (HTML-free; figures on stdout).

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use giaoban::sfu::forward::{DownTrackTx, LossCounter, Readiness, fan_out};
use giaoban::sfu::rewrite::Rewriter;
use rtc::rtp;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::mpsc;

fn rewrite(c: &mut Criterion) {
    c.bench_function("rewrite/steady", |b| {
        let mut r = Rewriter::new(42, 96, 90_000);
        let (mut seq, mut ts) = (0u16, 0u32);
        b.iter(|| {
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(3000);
            black_box(r.rewrite(black_box(7), seq, ts))
        })
    });
    c.bench_function("rewrite/source_switch", |b| {
        let mut r = Rewriter::new(42, 96, 90_000);
        let mut ssrc = 0u32;
        b.iter(|| {
            ssrc = ssrc.wrapping_add(1);
            black_box(r.rewrite(ssrc, 1000, 90_000))
        })
    });
}

fn packet() -> rtp::Packet {
    rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            payload_type: 96,
            sequence_number: 1,
            timestamp: 3000,
            ssrc: 7,
            marker: true,
            ..Default::default()
        },
        payload: Bytes::from(vec![0x90u8; 1100]),
    }
}

fn fan_out_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan_out");
    for n in [1usize, 25, 150] {
        let connected = Arc::new(AtomicBool::new(true));
        let mut subs = Vec::new();
        let mut rxs = Vec::new();
        for _ in 0..n {
            let ready = Arc::new(Readiness::new(connected.clone()));
            ready.set_negotiated();
            let (tx, rx) = mpsc::channel(64);
            subs.push(DownTrackTx::new(uuid::Uuid::new_v4(), tx, ready));
            rxs.push(rx);
        }
        let p = packet();
        group.bench_with_input(BenchmarkId::new("down_tracks", n), &n, |b, _| {
            b.iter(|| {
                let done = fan_out(&subs, black_box(p.clone()));
                // The down-track tasks' side: take the packet off each queue.
                for rx in &mut rxs {
                    black_box(rx.try_recv().ok());
                }
                done
            })
        });
    }
    group.finish();
}

fn loss(c: &mut Criterion) {
    c.bench_function("loss_counter", |b| {
        let mut l = LossCounter::default();
        let mut seq = 0u16;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(l.on_packet(seq))
        })
    });
}

criterion_group!(benches, rewrite, fan_out_bench, loss);
criterion_main!(benches);
