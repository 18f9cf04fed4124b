//! Waiting for a quit, below the tree: the node's list of pending
//! [`Quitted`](crate::Quitted) futures ([`waiters`]). The futures
//! themselves are handles over a node and live in `handle`; the `unsafe` of
//! the intrusive list's use lives in `waiters`, argued there.

#[allow(unsafe_code)]
pub(crate) mod waiters;
