//! imcore: the client core of a chat app.
pub mod mqtt;
pub mod session;
