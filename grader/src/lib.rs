//! The lab's grader: judges any image against the lab on a real engine, by
//! behaviour, every container sandboxed. `verify` grades one image, `grade` a
//! class from a roster, `report` writes the lab report of an image beside its
//! naive build.

pub mod grade;
pub mod grading;
pub mod report;
pub mod seed;
pub mod verify;
