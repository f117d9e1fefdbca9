//! Indexing stays within its memory: a sparse 511 MiB `.jpg` is refused from its first bytes
//! (and, unchanged, not read again), a 16-bit image too large to decode within the budget is
//! refused from its header, and large decodes share one budget, so a folder of them is indexed
//! under 1 GiB resident. Peak memory is the children's `ru_maxrss`: this file holds one test so
//! that no other test's child is counted.

use std::path::Path;
use std::process::Command;

mod common;
use common::succeed;

fn picseek() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_picseek"));
    c.env_remove("RUST_LOG").env_remove("PICSEEK_CACHE");
    c
}

/// Peak resident memory of any child waited for so far, in MiB.
fn children_peak_mib() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0);
    (usage.ru_maxrss as u64) >> 10
}

fn index(cache: &Path, dir: &Path) -> (String, String) {
    let out = succeed(picseek().arg("--cache").arg(cache).arg("--index").arg(dir));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A PNG of one colour, 16 bits a channel: small on disk, `6·w·h` bytes decoded.
fn write_png16(path: &Path, w: u32, h: u32, shade: u16) {
    let img = image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(
        w,
        h,
        image::Rgb([shade, 20000, 9000]),
    );
    img.save(path).unwrap();
}

/// A PNG header claiming `w`×`h` pixels of 16-bit RGB, with no real pixel data.
fn png16_header_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[16, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

#[test]
fn indexing_stays_within_its_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // 1. A sparse 511 MiB file named .jpg, and a 16-bit PNG claiming 10000×9999 pixels.
    let odd = tmp.path().join("odd");
    std::fs::create_dir(&odd).unwrap();
    let sparse = odd.join("sparse.jpg");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(511 << 20)
        .unwrap();
    std::fs::write(odd.join("huge16.png"), png16_header_claiming(10000, 9999)).unwrap();
    let (_, stderr) = index(&cache, &odd);
    assert!(
        stderr.contains("sparse.jpg: not an image in a supported format"),
        "{stderr}"
    );
    assert!(
        stderr.contains("huge16.png: image needs 859 MiB to decode, over the 768 MiB limit"),
        "{stderr}"
    );
    let peak = children_peak_mib();
    assert!(
        peak < 400,
        "the sparse file was read whole: peak {peak} MiB"
    );
    // Unchanged, both are reported again without being read.
    let (_, stderr) = index(&cache, &odd);
    assert_eq!(
        stderr
            .matches("(as last time; the file is unchanged)")
            .count(),
        2,
        "{stderr}"
    );

    // 2. Three 16-bit 7000×7000 images (441 MiB each to decode): two never decode at once.
    let big = tmp.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..3 {
        write_png16(
            &big.join(format!("big{i}.png")),
            7000,
            7000,
            10000 * (i + 1),
        );
    }
    let (stdout, stderr) = index(&cache, &big);
    assert!(
        stdout.contains("3 found, 3 newly encoded, 0 cached, 0 failed"),
        "{stdout}{stderr}"
    );
    let peak = children_peak_mib();
    assert!(peak < 1024, "peak {peak} MiB while indexing large images");
    eprintln!("peak resident memory of picseek --index: {peak} MiB");
}
