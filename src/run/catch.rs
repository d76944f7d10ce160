//! A panic inside one fetch is a bug; it must not take the fetch's row with
//! it (the row is what tells the user something went wrong, and where). The
//! fetch future is polled under `catch_unwind`; a panic becomes the message
//! for an `unknown_failure: internal: …` row and the run exits 1.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// `fut`, with a panic while polling turned into `Err(message)`.
pub async fn catch<F: Future>(fut: F) -> Result<F::Output, String> {
    let mut fut = Box::pin(fut);
    std::future::poll_fn(move |cx: &mut Context<'_>| poll_caught(fut.as_mut(), cx)).await
}

fn poll_caught<F: Future>(
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, String>> {
    match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Err(payload) => Poll::Ready(Err(payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into()))),
    }
}
