//! Grading an image against the lab: [`evidence`] gathers on the engine,
//! with every container confined by [`sandbox`], [`checks`] judges,
//! [`formats`] prints. `image-lab-grader verify`, `report` and
//! the end-to-end tests all go through [`grade`].

pub mod checks;
pub mod evidence;
pub mod formats;
pub mod sandbox;
pub mod untrusted;

use anyhow::Result;

pub use checks::{Outcome, Status};
pub use evidence::{Evidence, Subject};

/// The graded image: every outcome, and the evidence behind them.
#[derive(Debug)]
pub struct Grade {
    pub evidence: Evidence,
    pub outcomes: Vec<Outcome>,
}

impl Grade {
    /// True when no counted check failed: the lab's criteria, and with
    /// `strict` the others too. A check that does not apply never fails.
    pub fn passed(&self, strict: bool) -> bool {
        self.outcomes
            .iter()
            .filter(|outcome| outcome.check.lab || strict)
            .all(|outcome| outcome.status != Status::Fail)
    }

    /// The lab criteria passed, and those that apply.
    pub fn lab_score(&self) -> (usize, usize) {
        let lab = self.outcomes.iter().filter(|o| o.check.lab);
        let passed = lab.clone().filter(|o| o.status == Status::Pass).count();
        (
            passed,
            lab.filter(|o| o.status != Status::NotApplicable).count(),
        )
    }

    /// The outcome of the check `id`.
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|outcome| outcome.check.id == id)
    }

    /// The ids of the failed checks: the lab's criteria (`lab`) or the others.
    pub fn failed(&self, lab: bool) -> Vec<&'static str> {
        self.outcomes
            .iter()
            .filter(|o| o.check.lab == lab && o.status == Status::Fail)
            .map(|o| o.check.id)
            .collect()
    }
}

/// Runs the image on the engine and judges it.
pub fn grade(subject: &Subject) -> Result<Grade> {
    let evidence = Evidence::gather(subject)?;
    let outcomes = checks::grade(&evidence);
    Ok(Grade { evidence, outcomes })
}
