//! Stable-toolchain fuzz driver: random mutations (bit flips, interesting numbers,
//! RESP/config tokens, chunk insert/delete/duplicate, splicing) of the seed corpus,
//! each input run under `catch_unwind`, for a bounded time. No coverage feedback —
//! cargo-fuzz is the stronger tool when nightly flags are usable; this one runs
//! anywhere. Crashing inputs are written to `artifacts/<target>/crash-<hash>`.
//!
//! Usage: fuzz-driver TARGET SECONDS SEED_DIR... [--seed N] [--max-len N]
//!        fuzz-driver TARGET --repro FILE...   (run saved inputs once)
//! Exit status 1 when a crash was found.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Largest single allocation an input may cause (like libFuzzer's -malloc_limit_mb).
const ALLOC_LIMIT: usize = 2 << 30;

static CUR_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CUR_LEN: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, aborting (after saving the current input) on an allocation
/// larger than [`ALLOC_LIMIT`]: an input that makes a parser reserve gigabytes is a
/// finding (a remote peer could make the process abort).
struct Guard;

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > ALLOC_LIMIT {
            oversize(l.size());
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.size() > ALLOC_LIMIT {
            oversize(l.size());
        }
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if n > ALLOC_LIMIT {
            oversize(n);
        }
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Guard = Guard;

/// Save the input being run to `oversize-input` (raw syscalls: no allocation here) and
/// abort.
fn oversize(size: usize) -> ! {
    let p = CUR_PTR.load(Ordering::SeqCst);
    let n = CUR_LEN.load(Ordering::SeqCst);
    let name = b"oversize-input\0";
    unsafe {
        let fd = libc_open(name.as_ptr());
        if fd >= 0 && !p.is_null() {
            libc_write(fd, p, n);
        }
        let msg = b"fuzz-driver: allocation over the limit; input saved to ./oversize-input\n";
        libc_write(2, msg.as_ptr(), msg.len());
    }
    let _ = size;
    std::process::abort()
}

extern "C" {
    fn open(path: *const u8, flags: i32, mode: u32) -> i32;
    fn write(fd: i32, buf: *const u8, n: usize) -> isize;
}

unsafe fn libc_open(path: *const u8) -> i32 {
    // O_WRONLY | O_CREAT | O_TRUNC on Linux.
    open(path, 0o1 | 0o100 | 0o1000, 0o644)
}

unsafe fn libc_write(fd: i32, p: *const u8, n: usize) {
    let _ = write(fd, p, n);
}

/// xorshift64*: small, seedable, good enough for mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Tokens that matter to the parsers under test.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"*",
    b"$",
    b"+",
    b"-",
    b":",
    b",",
    b"%",
    b"~",
    b">",
    b"|",
    b"=",
    b"!",
    b"(",
    b"#",
    b"_",
    b"-1",
    b"0",
    b"1",
    b"2",
    b"10",
    b"-2",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"18446744073709551615",
    b"2147483648",
    b"4294967296",
    b"1048577",
    b"536870912",
    b"65536",
    b"\"",
    b"'",
    b"\\",
    b"\\x",
    b"\\x00",
    b" ",
    b"\t",
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"sentinel ",
    b"monitor ",
    b"known-replica ",
    b"known-sentinel ",
    b"save ",
    b"replicaof ",
    b"127.0.0.1",
    b"6379",
    b"mymaster",
    b"run_id:",
    b"role:master",
    b"role:slave",
    b"slave0:ip=",
    b",port=",
    b",state=online",
    b"master_host:",
    b"master_port:",
    b"master_link_status:up",
    b"slave_repl_offset:",
    b"master_link_down_since_seconds:",
    b"slave_priority:",
    b"replica-announced:",
    b"inf",
    b"-inf",
    b"nan",
    b"1e308",
    b"REDIS0010",
    b"REDIS0009",
    b"\xfa",
    b"\xfe",
    b"\xfb",
    b"\xfc",
    b"\xfd",
    b"\xff",
    b"\xc0",
    b"\xc1",
    b"\xc2",
    b"\xc3",
    b"\x80",
    b"\x81",
    b"\x40",
    b"\x7f",
];

const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0xc0, b'\r', b'\n'];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], max_len: usize) {
    let rounds = 1 + rng.below(6);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, t.iter().copied());
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(32));
                input.drain(at..at + n);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let chunk: Vec<u8> = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, chunk);
            }
            6 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a) + 1;
                    let at = rng.below(len + 1);
                    input.truncate(at);
                    input.extend_from_slice(&other[a..b]);
                }
            }
            7 if len > 0 => {
                // Replace a decimal number with another one.
                let i = rng.below(len);
                if input[i].is_ascii_digit() {
                    let mut j = i;
                    while j < len && input[j].is_ascii_digit() {
                        j += 1;
                    }
                    let t = TOKENS[18 + rng.below(12)];
                    input.splice(i..j, t.iter().copied());
                }
            }
            8 if len > 0 => {
                let at = rng.below(len);
                input.truncate(at);
            }
            9 if len > 4 => {
                // Overwrite with a little-endian or big-endian integer.
                let i = rng.below(len - 4);
                let v = match rng.below(4) {
                    0 => u32::MAX,
                    1 => 0x8000_0000,
                    2 => rng.next() as u32,
                    _ => 0x4000_0000,
                };
                let b = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                input[i..i + 4].copy_from_slice(&b);
            }
            _ => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let c = rng.next() as u8;
                input.splice(at..at, std::iter::repeat_n(c, n));
            }
        }
        if input.len() > max_len {
            input.truncate(max_len);
        }
    }
}

fn load_corpus(dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            eprintln!("fuzz-driver: cannot read {}", d.display());
            continue;
        };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_file() {
                if let Ok(b) = std::fs::read(&p) {
                    out.push(b);
                }
            }
        }
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn save_crash(dir: &Path, data: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let p = dir.join(format!("crash-{:016x}", fnv(data)));
    let _ = std::fs::write(&p, data);
    p
}

fn usage() -> ! {
    eprintln!("usage: fuzz-driver TARGET SECONDS SEED_DIR... [--seed N] [--max-len N]");
    eprintln!("       fuzz-driver TARGET --repro FILE...");
    let names: Vec<&str> = vigil_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    eprintln!("targets: {}", names.join(" "));
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        usage();
    }
    let Some(run) = vigil_fuzz::target(&args[0]) else {
        usage()
    };
    if args[1] == "--repro" {
        // Run saved inputs once each, with the normal panic message.
        for f in &args[2..] {
            match std::fs::read(f) {
                Ok(data) => {
                    println!("running {f}");
                    run(&data);
                    println!("{f}: ok");
                }
                Err(e) => eprintln!("{f}: {e}"),
            }
        }
        return;
    }
    let Ok(secs) = args[1].parse::<u64>() else {
        usage()
    };
    let mut seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut max_len = 64 * 1024;
    let mut dirs = Vec::new();
    let mut i = 2;
    while i < args.len() {
        match args[i].as_str() {
            "--seed" => {
                seed = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage());
                i += 2;
            }
            "--max-len" => {
                max_len = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage());
                i += 2;
            }
            d => {
                dirs.push(PathBuf::from(d));
                i += 1;
            }
        }
    }
    let corpus = load_corpus(&dirs);
    let artifacts = PathBuf::from("artifacts").join(&args[0]);
    // Quiet panics: we report them ourselves.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut execs, mut crashes, mut slowest) = (0u64, 0u64, Duration::ZERO);
    let mut kinds: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    // Seeds first, unmodified.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    let started = Instant::now();
    while Instant::now() < deadline {
        let input = match queue.pop() {
            Some(q) => q,
            None => {
                let mut m = corpus[rng.below(corpus.len())].clone();
                mutate(&mut rng, &mut m, &corpus, max_len);
                m
            }
        };
        CUR_PTR.store(input.as_ptr() as *mut u8, Ordering::SeqCst);
        CUR_LEN.store(input.len(), Ordering::SeqCst);
        let t0 = Instant::now();
        let res = catch_unwind(AssertUnwindSafe(|| run(&input)));
        let took = t0.elapsed();
        slowest = slowest.max(took);
        execs += 1;
        if took > Duration::from_secs(2) {
            let p = save_crash(&artifacts.join("slow"), &input);
            eprintln!(
                "fuzz-driver: slow input ({took:?}) saved to {}",
                p.display()
            );
        }
        if let Err(e) = res {
            crashes += 1;
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            // Keep fuzzing past a known crash: report each kind of panic (its
            // message up to the first quote or digit-laden detail) a few times only.
            let kind: String = msg
                .chars()
                .take_while(|c| !c.is_ascii_digit() && *c != '`' && *c != '\'')
                .take(60)
                .collect();
            let seen = kinds.entry(kind).or_insert(0u32);
            *seen += 1;
            if *seen <= 3 {
                let p = save_crash(&artifacts, &input);
                let short: String = msg.chars().take(300).collect();
                eprintln!("fuzz-driver: CRASH saved to {}: {short}", p.display());
            }
            if kinds.len() >= 20 {
                break;
            }
        }
    }
    let el = started.elapsed().as_secs_f64();
    let _ = writeln!(
        std::io::stdout(),
        "{}: {execs} execs in {el:.0}s ({:.0}/s), {} seeds, {crashes} crashing inputs of {} kinds, slowest {:?}, seed {seed}",
        args[0],
        execs as f64 / el.max(0.001),
        corpus.len(),
        kinds.len(),
        slowest
    );
    std::process::exit(if crashes > 0 { 1 } else { 0 });
}
