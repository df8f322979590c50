//! Account changes read from command lines (shell history, auditd `EXECVE`, sudo lines),
//! for hosts whose auth log is gone or never recorded them:
//! `useradd -o -u 0 x`, `useradd -G sudo x`, `usermod -aG wheel x`, `gpasswd -a x sudo`,
//! `adduser x sudo`, `echo 'x::0:0::/root:/bin/bash' >> /etc/passwd`, and writes to
//! `/etc/sudoers` or `/etc/sudoers.d/`.

use super::Reason;
use crate::heuristics::commands::{base_name, program_and_args, segments, words};
use regex::Regex;
use std::sync::LazyLock;

/// `echo 'name:x:0:…' >> /etc/passwd` (or through `tee -a`): the appended account.
static PASSWD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\b(?:echo|printf)\s+(?:-\S+\s+)*["']?([A-Za-z_][A-Za-z0-9_.-]*\$?):[^:\s"']*:(\d+):[^>|;&]*(?:>>?\s*|\|\s*(?:sudo\s+)?tee\s+(?:-a\s+)?)/etc/passwd\b"#,
    )
    .expect("valid built-in pattern")
});

/// A write to the sudoers policy (not `visudo`, the sanctioned editor).
static SUDOERS_WRITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:>>?\s*|\btee\s+(?:-a\s+)?|\bsed\s+(?:-\S+\s+)*-i\S*\s[^;&|]*|\b(?:cp|mv)\s[^;&|]*\s)(/etc/sudoers(?:\.d/[^\s;&|)'\x22]+)?)")
        .expect("valid built-in pattern")
});

/// The user a sudoers line grants: `bob ALL=(ALL) NOPASSWD: ALL`.
static SUDOERS_GRANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"["']\s*([%A-Za-z_][A-Za-z0-9_.-]*)\s+ALL\s*="#).expect("valid built-in pattern")
});

/// Options of useradd/usermod/adduser that take a value.
const VALUED: &[&str] = &[
    "-b",
    "-c",
    "-d",
    "-e",
    "-f",
    "-g",
    "-G",
    "-k",
    "-K",
    "-p",
    "-s",
    "-u",
    "-R",
    "-P",
    "-Z",
    "-l",
    "--base-dir",
    "--comment",
    "--home-dir",
    "--home",
    "--expiredate",
    "--inactive",
    "--gid",
    "--groups",
    "--skel",
    "--key",
    "--password",
    "--shell",
    "--uid",
    "--root",
    "--prefix",
    "--selinux-user",
    "--login",
    "--ingroup",
    "--gecos",
    "--conf",
    "--firstuid",
    "--lastuid",
];

/// Words without which a command line grants nothing here (a cheap first filter).
const NEEDLES: &[&str] = &[
    "useradd",
    "adduser",
    "usermod",
    "gpasswd",
    "/etc/passwd",
    "/etc/sudoers",
];

/// `(account, reason)` for every privilege a command line grants.
pub(super) fn reasons(cmd: &str) -> Vec<(&str, Reason<'_>)> {
    let mut found = Vec::new();
    if !NEEDLES.iter().any(|n| cmd.contains(n)) {
        return found;
    }
    for segment in segments(cmd) {
        let words = words(segment);
        let Some((program, args)) = program_and_args(&words) else {
            continue;
        };
        match base_name(program) {
            "useradd" | "adduser" | "usermod" => account_tool(base_name(program), args, &mut found),
            "gpasswd" => gpasswd(args, &mut found),
            _ => {}
        }
    }
    for c in PASSWD_LINE.captures_iter(cmd) {
        if let (Some(user), Some(uid)) = (c.get(1), c.get(2))
            && uid.as_str() == "0"
            && user.as_str() != "root"
        {
            found.push((user.as_str(), Reason::RootUid));
        }
    }
    if let Some(file) = SUDOERS_WRITE.captures(cmd).and_then(|c| c.get(1)) {
        let grantee = SUDOERS_GRANT
            .captures(cmd)
            .and_then(|c| c.get(1))
            .map_or("", |m| m.as_str());
        found.push((grantee, Reason::Sudoers(file.as_str())));
    }
    found
}

/// `useradd [-o] -u 0 …`, `useradd -G sudo,docker …`, `usermod -aG wheel bob`,
/// `adduser bob sudo`.
fn account_tool<'w>(tool: &str, args: &[&'w str], found: &mut Vec<(&'w str, Reason<'w>)>) {
    let mut uid = None;
    let mut gid = None;
    let mut groups: Vec<&str> = Vec::new();
    let mut positional = Vec::new();
    let mut i = 0;
    while let Some(&a) = args.get(i) {
        i += 1;
        let (flag, inline) = if a.starts_with("--") {
            match a.split_once('=') {
                Some((f, v)) => (f, Some(v)),
                None => (a, None),
            }
        } else if let Some(letters) = a.strip_prefix('-').filter(|l| !l.is_empty()) {
            // A cluster such as `-aG`, `-ou0`: its first valued letter takes the rest of
            // the word, or the next word.
            match letters
                .char_indices()
                .find(|(_, c)| VALUED_LETTERS.contains(*c))
            {
                Some((at, c)) => {
                    let rest = &letters[at + c.len_utf8()..];
                    (letter_flag(c), Some(rest).filter(|r| !r.is_empty()))
                }
                None => continue,
            }
        } else {
            positional.push(a);
            continue;
        };
        if !VALUED.contains(&flag) {
            continue;
        }
        let value = inline.or_else(|| {
            i += 1;
            args.get(i - 1).copied()
        });
        match (flag, value) {
            ("-u" | "--uid", Some(v)) => uid = Some(v),
            ("-g" | "--gid" | "--ingroup", Some(v)) => gid = Some(v),
            ("-G" | "--groups", Some(v)) => groups.extend(v.split(',').map(str::trim)),
            _ => {}
        }
    }
    let Some(&user) = positional.first() else {
        return;
    };
    // Debian's `adduser bob sudo`: add an existing user to a group.
    if tool == "adduser" && positional.len() == 2 {
        groups.push(positional[1]);
    }
    if uid == Some("0") && user != "root" {
        found.push((user, Reason::RootUid));
        return;
    }
    if matches!(gid, Some("0" | "root")) {
        found.push((user, Reason::Group("root")));
    }
    for g in groups {
        if super::PRIVILEGED_GROUPS.contains(&g) {
            found.push((user, Reason::Group(g)));
        }
    }
}

/// Short options that take a value.
const VALUED_LETTERS: &str = "bcdefgGkKpsuRPZl";

/// `-u`, `-g`, `-G` as themselves; other valued letters as one name (`-b`).
fn letter_flag(c: char) -> &'static str {
    match c {
        'u' => "-u",
        'g' => "-g",
        'G' => "-G",
        _ => "-b",
    }
}

/// `gpasswd -a bob sudo`, `gpasswd --add bob sudo`, `gpasswd -M bob,eve wheel`.
fn gpasswd<'w>(args: &[&'w str], found: &mut Vec<(&'w str, Reason<'w>)>) {
    let (Some(flag), Some(users), Some(group)) = (args.first(), args.get(1), args.get(2)) else {
        return;
    };
    if !matches!(*flag, "-a" | "--add" | "-M" | "--members") {
        return;
    }
    if let Some(g) = super::PRIVILEGED_GROUPS.iter().find(|g| *g == group) {
        for user in users.split(',').filter(|u| !u.is_empty()) {
            found.push((user, Reason::Group(g)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(cmd: &str) -> Vec<(String, String)> {
        reasons(cmd)
            .into_iter()
            .map(|(u, r)| (u.to_string(), format!("{r:?}")))
            .collect()
    }

    fn pair(u: &str, r: &str) -> (String, String) {
        (u.to_string(), r.to_string())
    }

    #[test]
    fn account_tools() {
        assert_eq!(
            of("useradd -o -u 0 -g 0 -M -d /root -s /bin/bash sysd"),
            [pair("sysd", "RootUid")]
        );
        assert_eq!(
            of("sudo useradd -ou0 backdoor"),
            [pair("backdoor", "RootUid")]
        );
        assert_eq!(of("useradd --uid=0 --non-unique x"), [pair("x", "RootUid")]);
        assert_eq!(
            of("useradd -m -G sudo,docker -s /bin/bash deploy"),
            [
                pair("deploy", "Group(\"sudo\")"),
                pair("deploy", "Group(\"docker\")")
            ]
        );
        assert_eq!(
            of("usermod -aG wheel eve"),
            [pair("eve", "Group(\"wheel\")")]
        );
        assert_eq!(
            of("usermod -a -G sudo eve && id eve"),
            [pair("eve", "Group(\"sudo\")")]
        );
        assert_eq!(of("adduser eve sudo"), [pair("eve", "Group(\"sudo\")")]);
        assert_eq!(
            of("gpasswd -a eve docker"),
            [pair("eve", "Group(\"docker\")")]
        );
        assert_eq!(
            of("echo 'sys:$1$x$y:0:0::/root:/bin/bash' >> /etc/passwd"),
            [pair("sys", "RootUid")]
        );
        assert_eq!(
            of(r#"echo "ops ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers"#),
            [pair("ops", "Sudoers(\"/etc/sudoers\")")]
        );
        assert_eq!(
            of("echo 'ops ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/ops"),
            [pair("ops", "Sudoers(\"/etc/sudoers.d/ops\")")]
        );
    }

    #[test]
    fn routine_account_commands_raise_nothing() {
        for cmd in [
            "useradd -m -s /bin/bash alice",
            "useradd -u 1050 -G users,audio bob",
            "usermod -s /bin/zsh alice",
            "usermod -aG video alice",
            "adduser alice",
            "gpasswd -d eve sudo",
            "grep root /etc/passwd",
            "cat /etc/sudoers",
            "visudo",
            "echo 'alice:x:1001:1001::/home/alice:/bin/bash' >> /etc/passwd",
            "cp /etc/sudoers /root/sudoers.bak",
            "usermod",
        ] {
            assert_eq!(of(cmd), Vec::<(String, String)>::new(), "{cmd}");
        }
    }
}
