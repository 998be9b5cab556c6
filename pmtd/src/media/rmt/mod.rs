//! The rmt client: one session with an `rmt` server on another host
//! (Debian's rmt-dump or rmt-tar), started over a remote shell
//! ([`conn::Connection`]), and where that server is and how to start it
//! ([`Remote`]). Two media use it: a tape drive on that host
//! ([`crate::media::device::rmt`], `rmt:`) and a SIMH image in a file there
//! ([`crate::media::image::remote`], `rmt-tap:`).
//!
//! A session per volume: rmt-tar exits after `C`, rmt-dump does not. A
//! dropped connection or a silent server fails the operation in progress
//! within the reply timeout, and every later one at once.

pub mod conn;

use std::time::Duration;

/// Where an rmt server runs and how to start it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The remote user, if not the local one.
    pub user: Option<String>,
    /// The host.
    pub host: String,
    /// The device or file on the host.
    pub path: String,
    /// The remote shell command; None: `$PMT_RSH`, else `ssh`.
    pub rsh: Option<String>,
    /// The rmt program on the host; None: `$PMT_RMT`, else `/etc/rmt`.
    pub rmt: Option<String>,
    /// The longest wait for one reply.
    pub timeout: Duration,
}

impl Remote {
    /// The longest wait for one reply unless a spec says otherwise.
    pub const TIMEOUT: Duration = Duration::from_secs(60);

    /// `path` on `host` as `user`, with the default shell, server and
    /// timeout.
    pub fn new(user: Option<String>, host: String, path: String) -> Remote {
        Remote { user, host, path, rsh: None, rmt: None, timeout: Remote::TIMEOUT }
    }

    /// `[user@]host:path`, for logs and errors.
    pub fn display(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}:{}", self.host, self.path),
            None => format!("{}:{}", self.host, self.path),
        }
    }

    /// The remote shell as a program and its arguments.
    pub fn rsh_argv(&self) -> Vec<String> {
        let s = self.rsh.clone().or_else(|| std::env::var("PMT_RSH").ok()).unwrap_or_else(|| "ssh".into());
        let v: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        if v.is_empty() {
            vec!["ssh".into()]
        } else {
            v
        }
    }

    /// The rmt program to run on the host.
    pub fn rmt_program(&self) -> String {
        self.rmt.clone().or_else(|| std::env::var("PMT_RMT").ok()).unwrap_or_else(|| "/etc/rmt".into())
    }
}
