//! The media thread: one OS thread with a single-threaded tokio runtime of its own, on which the
//! shared port's receive task and the driver's loop run. A packet's whole way through the server
//! (read, decrypt, fan out, rewrite, encrypt, send) then stays on one thread: waking the loop
//! from the receive task is a local wake-up, never a futex and a second thread scheduled, and the
//! server's other work (HTTP, signaling, database) keeps the runtime's workers. It stops when
//! dropped (the tasks still on it are dropped with its runtime).

use std::io;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub struct MediaThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
}

impl MediaThread {
    pub fn start() -> io::Result<MediaThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("giaoban-media")
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("giaoban-media".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(MediaThread {
            handle,
            stop: Some(stop),
        })
    }

    /// The media runtime: enter it to bind the shared socket, spawn on it to run there.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for MediaThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_on_the_media_thread_until_it_is_dropped() {
        let thread = MediaThread::start().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        thread.handle().spawn(async move {
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send(name);
            std::future::pending::<()>().await;
        });
        let name = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(name.as_deref(), Some("giaoban-media"));
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel::<()>();
        struct Guard(std::sync::mpsc::Sender<()>);
        impl Drop for Guard {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let guard = Guard(dropped_tx);
        thread.handle().spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        drop(thread);
        // The runtime ends: its pending tasks are dropped.
        dropped_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the task was dropped with the runtime");
    }
}
