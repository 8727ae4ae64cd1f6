//! follows
