//! Stopping a run: SIGINT (Ctrl-C), SIGTERM (`systemctl stop`, shutdown) and
//! SIGHUP (closed terminal) all end it the same way.
//!
//! First signal: no new fetch starts; the fetches in flight get `grace` to
//! finish by themselves, then they are cut (`capped = stop`) and their rows
//! written anyway — in a throttling probe the fetches still running at the
//! end are the slow ones, so dropping them would bias the data. A second
//! signal cuts at once (still writing the rows). Either way the run ends
//! normally (rows, round log, verdicts) and exits 128 + the signal number of
//! the first signal: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{watch, Notify};

use crate::probe::Cut;

/// A stop request that the scheduler polls or waits on, and the cut that
/// ends fetches in flight.
pub struct Stop {
    flag: AtomicBool,
    notify: Notify,
    /// The first signal's number (0: none; stopped for another reason).
    signo: AtomicI32,
    cut_tx: watch::Sender<bool>,
}

impl Stop {
    pub fn new() -> Stop {
        Stop {
            flag: AtomicBool::new(false),
            notify: Notify::new(),
            signo: AtomicI32::new(0),
            cut_tx: watch::channel(false).0,
        }
    }

    /// Stop starting fetches.
    pub fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Stop starting fetches and cut the ones in flight.
    pub fn cut_now(&self) {
        self.set();
        self.cut_tx.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub async fn wait(&self) {
        let notified = self.notify.notified();
        if self.is_set() {
            return;
        }
        notified.await
    }

    /// The handle fetches watch.
    pub fn cut(&self) -> Cut {
        Cut::new(self.cut_tx.subscribe())
    }

    /// The exit code for the signal that stopped the run, if one did.
    pub fn exit_code(&self) -> Option<i32> {
        match self.signo.load(Ordering::SeqCst) {
            0 => None,
            n => Some(128 + n),
        }
    }
}

/// Listen for the three signals for the rest of the run (abort the returned
/// task at the end). Installing the handlers replaces the default action
/// (die at once) for the whole process, which is the point.
pub fn listen(stop: Arc<Stop>, grace: Duration) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut sigs = Signals {
        int: signal(SignalKind::interrupt())?,
        term: signal(SignalKind::terminate())?,
        hup: signal(SignalKind::hangup())?,
    };
    Ok(tokio::spawn(async move {
        let (name, signo) = sigs.next().await;
        stop.signo.store(signo, Ordering::SeqCst);
        stop.set();
        crate::eprintln_quiet!(
            "slowlane: {name}: stopping; fetches in flight get {} to finish, then are cut \
             (capped=stop) and written (signal again to cut now)",
            humantime::format_duration(grace)
        );
        tokio::select! {
            _ = tokio::time::sleep(grace) => {}
            (name, _) = sigs.next() => {
                crate::eprintln_quiet!("slowlane: {name}: cutting fetches in flight now");
            }
        }
        stop.cut_now();
        // Later signals are absorbed: the rows are being written.
        loop {
            sigs.next().await;
        }
    }))
}

struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.int.recv() => ("SIGINT", libc::SIGINT),
            _ = self.term.recv() => ("SIGTERM", libc::SIGTERM),
            _ = self.hup.recv() => ("SIGHUP", libc::SIGHUP),
        }
    }
}

/// The exit code (128 + signal number) of the next SIGINT, SIGTERM or
/// SIGHUP; never resolves if the handlers cannot be installed. For the work
/// after the run (the final analysis), which a stop should not wait for.
pub async fn stop_signal() -> i32 {
    let sigs = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    );
    let (Ok(int), Ok(term), Ok(hup)) = sigs else {
        return std::future::pending().await;
    };
    let (_, signo) = Signals { int, term, hup }.next().await;
    128 + signo
}
