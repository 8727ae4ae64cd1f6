//! received
