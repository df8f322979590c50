//! The live state of a running host, read over SSH: each command's output is an item
//! filed under `/$Riposte/live/NAME`, one parser per output.

pub mod inventory;
pub mod logins;
pub mod processes;
pub mod sockets;

/// Where live-state outputs are filed.
pub(crate) const LIVE_PREFIX: &str = "/$Riposte/live/";

/// True when `path` is the live-state output `name`.
pub(crate) fn is_output(path: &str, name: &str) -> bool {
    path.strip_prefix(LIVE_PREFIX) == Some(name)
}
