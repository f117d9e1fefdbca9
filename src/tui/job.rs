//! Workers as handles, after gitui's `AsyncSingleJob`: each owns its thread, its mailbox and
//! its join, so the runtime holds one field per worker instead of loose queues and threads.
//!
//! - [`Latest`]: a one-item mailbox, newest request wins;
//! - [`Worker`]: a long-lived worker taking requests from its mailbox (searches, previews);
//! - [`Task`]: a one-off job on a named thread (the folder's index run, the dataset, the review).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// A one-item mailbox: `put` replaces what is waiting, `take` blocks until something is there.
pub struct Latest<T> {
    slot: Mutex<(Option<T>, bool)>,
    ready: Condvar,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self {
            slot: Mutex::new((None, false)),
            ready: Condvar::new(),
        }
    }
}

impl<T> Latest<T> {
    pub fn put(&self, value: T) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.0 = Some(value);
        self.ready.notify_one();
    }

    /// Wakes the worker for good.
    pub fn close(&self) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.1 = true;
        self.ready.notify_all();
    }

    /// The value waiting, if any, without blocking (and `None` once closed).
    pub fn try_take(&self) -> Option<T> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.1 {
            return None;
        }
        slot.0.take()
    }

    /// The newest value, or `None` once closed.
    pub fn take(&self) -> Option<T> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if slot.1 {
                return None;
            }
            if let Some(v) = slot.0.take() {
                return Some(v);
            }
            slot = self.ready.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A worker on a thread of its own that takes requests from a [`Latest`] mailbox. Dropping it
/// closes the mailbox and joins the thread (a request being worked on is finished first).
pub struct Worker<T> {
    mailbox: Arc<Latest<T>>,
    thread: Option<JoinHandle<()>>,
    /// A request was made and its answer has not arrived.
    waiting: bool,
}

impl<T: Send + 'static> Worker<T> {
    /// Starts `work` on a thread named `name`; it gets the mailbox and should return once
    /// [`Latest::take`] gives `None`.
    pub fn spawn(name: &str, work: impl FnOnce(Arc<Latest<T>>) + Send + 'static) -> Self {
        let mailbox: Arc<Latest<T>> = Arc::default();
        let inbox = Arc::clone(&mailbox);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || work(inbox))
            .expect("spawning a thread");
        Worker {
            mailbox,
            thread: Some(thread),
            waiting: false,
        }
    }
}

impl<T> Worker<T> {
    /// A worker with no thread: requests wait in the mailbox, where a test takes them with
    /// [`Worker::take_request`] and answers in the worker's place.
    pub fn unstarted() -> Self {
        Worker {
            mailbox: Arc::default(),
            thread: None,
            waiting: false,
        }
    }

    /// Asks for `job`, replacing a request not yet started.
    pub fn request(&mut self, job: T) {
        self.waiting = true;
        self.mailbox.put(job);
    }

    /// The answer to the newest request arrived.
    pub fn answered(&mut self) {
        self.waiting = false;
    }

    /// Whether a request is still unanswered.
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// The request not yet started, taken out of the mailbox (never blocks).
    pub fn take_request(&self) -> Option<T> {
        self.mailbox.try_take()
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.mailbox.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A one-off job on a named thread. Dropping the handle joins the thread when the job is done,
/// and leaves it running otherwise: the jobs write the cache only in steps that leave it
/// consistent, and quitting must not wait for an index run of a large folder.
pub struct Task(Option<JoinHandle<()>>);

impl Task {
    pub fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Self {
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(work)
            .expect("spawning a thread");
        Task(Some(thread))
    }

    pub fn is_finished(&self) -> bool {
        self.0.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take_if(|t| t.is_finished()) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_keeps_only_the_newest() {
        let l = Latest::default();
        l.put(1);
        l.put(2);
        assert_eq!(l.take(), Some(2));
        l.close();
        assert_eq!(l.take(), None);
    }

    #[test]
    fn a_worker_answers_the_newest_request_and_is_joined_on_drop() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut w = Worker::spawn("test-worker", move |inbox: Arc<Latest<u32>>| {
            while let Some(n) = inbox.take() {
                tx.send(n * 2).unwrap();
            }
        });
        w.request(21);
        assert!(w.is_waiting());
        assert_eq!(rx.recv().unwrap(), 42);
        w.answered();
        assert!(!w.is_waiting());
        drop(w);
        // The thread ended: its sender is gone.
        assert!(rx.recv().is_err());
    }

    #[test]
    fn an_unstarted_worker_keeps_the_request_for_the_caller() {
        let mut w: Worker<&str> = Worker::unstarted();
        w.request("old");
        w.request("new");
        assert_eq!(w.take_request(), Some("new"));
        assert_eq!(w.take_request(), None);
        assert!(w.is_waiting());
    }

    #[test]
    fn a_finished_task_is_joined() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let task = Task::spawn("test-task", move || tx.send(1).unwrap());
        assert_eq!(rx.recv().unwrap(), 1);
        while !task.is_finished() {
            std::thread::yield_now();
        }
        drop(task);
    }
}
