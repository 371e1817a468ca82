//! The incident status machine: one explicit table of allowed transitions, each gated by role.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::DomainError;
use crate::model::{Role, wire_enum};

wire_enum!(
    /// Where an incident stands.
    Status {
        /// Just captured; nobody has looked at it.
        New = "new",
        /// Checked by an operator: it is an incident, classification confirmed.
        Moderated = "moderated",
        /// Routed to a responsible organisation.
        Assigned = "assigned",
        /// Taken by an executor of that organisation.
        InWork = "in_work",
        /// An answer waits for the curator's review.
        Review = "review",
        /// The curator returned the answer for rework.
        Rework = "rework",
        /// The answer is approved and waits to be published.
        Approved = "approved",
        /// The final answer is published where the citizen wrote.
        Answered = "answered",
        /// Done.
        Closed = "closed",
        /// Not an incident, spam, obscene, not competent, a duplicate.
        Rejected = "rejected",
        /// Put aside for a while (waiting for works planned later, for the citizen…).
        Deferred = "deferred",
        /// A clarifying question went to the citizen; deadlines are paused until the reply.
        WaitingCitizen = "waiting_citizen",
    }
);

impl Status {
    /// Statuses in which no more work is expected.
    pub fn is_terminal(self) -> bool {
        matches!(self, Closed | Rejected)
    }
}

wire_enum!(
    /// Something a user does to an incident.
    Action {
        Moderate = "moderate",
        Assign = "assign",
        Take = "take",
        Redirect = "redirect",
        DraftAnswer = "draft_answer",
        SubmitForReview = "submit_for_review",
        Approve = "approve",
        ReturnForRework = "return_for_rework",
        PublishIntermediate = "publish_intermediate",
        PublishFinal = "publish_final",
        Close = "close",
        Reopen = "reopen",
        Reject = "reject",
        Defer = "defer",
        Resume = "resume",
        /// Set the incident's tags (for reports and the registry of problems).
        Tag = "tag",
        /// Ask the citizen a clarifying question and pause the deadlines.
        AskCitizen = "ask_citizen",
        /// The citizen did not reply in time (the deadline sweep closes the incident).
        AutoClose = "auto_close",
        /// The citizen rates the answer (through the tracking page; recorded by the system).
        Rate = "rate",
        /// A duplicate joins another incident: its messages move there and it is closed as rejected.
        Merge = "merge",
        /// Extend the answer deadline once (formal appeals, 59-ФЗ), with a reason.
        Extend = "extend",
        /// Add or remove an organisation that co-executes (the lead organisation answers).
        AddCoExecutor = "add_co_executor",
        RemoveCoExecutor = "remove_co_executor",
        /// A co-executor's (or the lead's) contribution for the answer, recorded in the history.
        Contribute = "contribute",
        /// One message of an incident that is about something else becomes an incident of its own.
        Split = "split",
    }
);

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    To(Status),
    /// The status does not change (the action works on something inside the incident).
    Stay,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub action: Action,
    pub from: &'static [Status],
    pub to: Target,
    pub roles: &'static [Role],
}

use Role::{Admin, MunicipalOperator as Mo, OrgExecutor as Ex, OrgHead as Head, RegionalCurator as Rc};
use Status::*;

const CENTRE: &[Role] = &[Admin, Rc, Mo];
const EXECUTORS: &[Role] = &[Admin, Head, Ex];
const ROUTERS: &[Role] = &[Admin, Rc, Mo, Head];
const TAGGERS: &[Role] = &[Admin, Rc, Mo, Head, Ex];
const WORKERS: &[Role] = &[Admin, Rc, Mo, Head, Ex];

/// The table. Control centres moderate, route, review, publish and close; organisations work.
pub const TRANSITIONS: &[Transition] = &[
    Transition { action: Action::Moderate, from: &[New], to: Target::To(Moderated), roles: CENTRE },
    Transition { action: Action::Assign, from: &[New, Moderated], to: Target::To(Assigned), roles: CENTRE },
    Transition { action: Action::Take, from: &[Assigned], to: Target::To(InWork), roles: EXECUTORS },
    Transition {
        action: Action::Redirect,
        from: &[Assigned, InWork, Rework, Deferred, WaitingCitizen],
        to: Target::To(Assigned),
        roles: ROUTERS,
    },
    Transition { action: Action::DraftAnswer, from: &[InWork, Rework], to: Target::Stay, roles: EXECUTORS },
    Transition { action: Action::SubmitForReview, from: &[InWork, Rework], to: Target::To(Review), roles: EXECUTORS },
    Transition { action: Action::Approve, from: &[Review], to: Target::To(Approved), roles: CENTRE },
    Transition { action: Action::ReturnForRework, from: &[Review, Approved], to: Target::To(Rework), roles: CENTRE },
    Transition { action: Action::PublishIntermediate, from: &[Approved], to: Target::To(InWork), roles: CENTRE },
    Transition { action: Action::PublishFinal, from: &[Approved], to: Target::To(Answered), roles: CENTRE },
    Transition { action: Action::Close, from: &[Answered], to: Target::To(Closed), roles: CENTRE },
    Transition { action: Action::Reopen, from: &[Answered, Closed], to: Target::To(Assigned), roles: CENTRE },
    Transition { action: Action::Reopen, from: &[Rejected], to: Target::To(Moderated), roles: CENTRE },
    Transition { action: Action::Reject, from: &[New, Moderated, Assigned], to: Target::To(Rejected), roles: CENTRE },
    Transition { action: Action::Defer, from: &[Assigned, InWork], to: Target::To(Deferred), roles: ROUTERS },
    Transition { action: Action::Resume, from: &[Deferred, WaitingCitizen], to: Target::To(InWork), roles: WORKERS },
    Transition {
        action: Action::AskCitizen,
        from: &[Assigned, InWork],
        to: Target::To(WaitingCitizen),
        roles: WORKERS,
    },
    Transition { action: Action::AutoClose, from: &[WaitingCitizen], to: Target::To(Closed), roles: &[Admin] },
    Transition { action: Action::Rate, from: &[Answered, Closed], to: Target::Stay, roles: &[Admin] },
    Transition {
        action: Action::Merge,
        from: &[New, Moderated, Assigned, InWork, Rework, Deferred, WaitingCitizen],
        to: Target::To(Rejected),
        roles: CENTRE,
    },
    Transition {
        action: Action::Split,
        from: &[New, Moderated, Assigned, InWork, Review, Rework, Approved, Answered, Deferred, WaitingCitizen],
        to: Target::Stay,
        roles: CENTRE,
    },
    Transition {
        action: Action::Tag,
        from: &[New, Moderated, Assigned, InWork, Review, Rework, Approved, Answered, Deferred, WaitingCitizen],
        to: Target::Stay,
        roles: TAGGERS,
    },
    Transition {
        action: Action::Extend,
        from: &[Assigned, InWork, Rework, Review, Approved, Deferred],
        to: Target::Stay,
        roles: ROUTERS,
    },
    Transition { action: Action::AddCoExecutor, from: OPEN_WORK, to: Target::Stay, roles: ROUTERS },
    Transition { action: Action::RemoveCoExecutor, from: OPEN_WORK, to: Target::Stay, roles: ROUTERS },
    Transition { action: Action::Contribute, from: OPEN_WORK, to: Target::Stay, roles: WORKERS },
];

/// Statuses in which an organisation works on the incident.
const OPEN_WORK: &[Status] = &[Assigned, InWork, Rework, Review, Approved, Deferred, WaitingCitizen];

/// The row for `action` from `from`, if the table has one.
pub fn transition(from: Status, action: Action) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|t| t.action == action && t.from.contains(&from))
}

/// Checks that `action` is allowed from `from` for someone holding `role`, and returns the status
/// it leads to. A forbidden transition is always an error, never a no-op.
pub fn check(from: Status, action: Action, role: Role) -> Result<Status, DomainError> {
    let t = transition(from, action).ok_or(DomainError::InvalidTransition { action, from })?;
    if !t.roles.contains(&role) {
        return Err(DomainError::ForbiddenAction(action));
    }
    Ok(match t.to {
        Target::To(s) => s,
        Target::Stay => from,
    })
}

/// Actions the table allows from `from` to any of `roles` (for showing buttons). The citizen's
/// own actions (rating) are done through the tracking page and never offered to staff.
pub fn allowed_actions(from: Status, roles: &[Role]) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|a| *a != Action::Rate)
        .filter(|a| transition(from, *a).is_some_and(|t| t.roles.iter().any(|r| roles.contains(r))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected table written independently, as (action, from, to, roles).
    fn spec() -> Vec<(Action, Status, Status, &'static [Role])> {
        use Action as A;
        let centre: &'static [Role] = &[Admin, Rc, Mo];
        let exec: &'static [Role] = &[Admin, Head, Ex];
        let routers: &'static [Role] = &[Admin, Rc, Mo, Head];
        let workers: &'static [Role] = &[Admin, Rc, Mo, Head, Ex];
        let mut v = vec![
            (A::Moderate, New, Moderated, centre),
            (A::Assign, New, Assigned, centre),
            (A::Assign, Moderated, Assigned, centre),
            (A::Take, Assigned, InWork, exec),
            (A::Redirect, Assigned, Assigned, routers),
            (A::Redirect, InWork, Assigned, routers),
            (A::Redirect, Rework, Assigned, routers),
            (A::Redirect, Deferred, Assigned, routers),
            (A::Redirect, WaitingCitizen, Assigned, routers),
            (A::DraftAnswer, InWork, InWork, exec),
            (A::DraftAnswer, Rework, Rework, exec),
            (A::SubmitForReview, InWork, Review, exec),
            (A::SubmitForReview, Rework, Review, exec),
            (A::Approve, Review, Approved, centre),
            (A::ReturnForRework, Review, Rework, centre),
            (A::ReturnForRework, Approved, Rework, centre),
            (A::PublishIntermediate, Approved, InWork, centre),
            (A::PublishFinal, Approved, Answered, centre),
            (A::Close, Answered, Closed, centre),
            (A::Reopen, Answered, Assigned, centre),
            (A::Reopen, Closed, Assigned, centre),
            (A::Reopen, Rejected, Moderated, centre),
            (A::Reject, New, Rejected, centre),
            (A::Reject, Moderated, Rejected, centre),
            (A::Reject, Assigned, Rejected, centre),
            (A::Defer, Assigned, Deferred, routers),
            (A::Defer, InWork, Deferred, routers),
            (A::Resume, Deferred, InWork, workers),
            (A::Resume, WaitingCitizen, InWork, workers),
            (A::AskCitizen, Assigned, WaitingCitizen, workers),
            (A::AskCitizen, InWork, WaitingCitizen, workers),
            (A::AutoClose, WaitingCitizen, Closed, &[Admin]),
            (A::Rate, Answered, Answered, &[Admin]),
            (A::Rate, Closed, Closed, &[Admin]),
        ];
        for s in [New, Moderated, Assigned, InWork, Rework, Deferred, WaitingCitizen] {
            v.push((A::Merge, s, Rejected, centre));
        }
        for s in [Assigned, InWork, Rework, Review, Approved, Deferred] {
            v.push((A::Extend, s, s, routers));
        }
        for s in [Assigned, InWork, Rework, Review, Approved, Deferred, WaitingCitizen] {
            v.push((A::AddCoExecutor, s, s, routers));
            v.push((A::RemoveCoExecutor, s, s, routers));
            v.push((A::Contribute, s, s, workers));
        }
        let taggers: &'static [Role] = &[Admin, Rc, Mo, Head, Ex];
        for s in [New, Moderated, Assigned, InWork, Review, Rework, Approved, Answered, Deferred, WaitingCitizen] {
            v.push((A::Split, s, s, centre));
        }
        for s in [New, Moderated, Assigned, InWork, Review, Rework, Approved, Answered, Deferred, WaitingCitizen] {
            v.push((A::Tag, s, s, taggers));
        }
        v
    }

    #[test]
    fn every_status_action_role_combination_matches_the_spec() {
        let spec = spec();
        let mut allowed = 0;
        for &from in Status::ALL {
            for &action in Action::ALL {
                for &role in Role::ALL {
                    let row = spec.iter().find(|(a, f, _, _)| *a == action && *f == from);
                    let got = check(from, action, role);
                    match row {
                        None => assert!(
                            matches!(got, Err(DomainError::InvalidTransition { .. })),
                            "{action} from {from} as {role} should be invalid, got {got:?}"
                        ),
                        Some((_, _, to, roles)) if roles.contains(&role) => {
                            allowed += 1;
                            assert_eq!(got.ok(), Some(*to), "{action} from {from} as {role}");
                        }
                        Some(_) => assert!(
                            matches!(got, Err(DomainError::ForbiddenAction(a)) if a == action),
                            "{action} from {from} as {role} should be forbidden, got {got:?}"
                        ),
                    }
                }
            }
        }
        let expected: usize = spec.iter().map(|(_, _, _, r)| r.len()).sum();
        assert_eq!(allowed, expected);
    }

    #[test]
    fn viewers_can_do_nothing_and_terminal_states_only_reopen() {
        for &s in Status::ALL {
            assert!(allowed_actions(s, &[Role::Viewer]).is_empty());
        }
        assert_eq!(allowed_actions(Closed, &[Admin]), vec![Action::Reopen]);
        assert_eq!(allowed_actions(Rejected, &[Admin]), vec![Action::Reopen]);
    }

    #[test]
    fn no_action_has_two_rows_for_one_status() {
        for &s in Status::ALL {
            for &a in Action::ALL {
                let n = TRANSITIONS.iter().filter(|t| t.action == a && t.from.contains(&s)).count();
                assert!(n <= 1, "{a} from {s} has {n} rows");
            }
        }
    }

    #[test]
    fn every_status_is_reachable_from_new() {
        let mut seen = vec![New];
        let mut frontier = vec![New];
        while let Some(s) = frontier.pop() {
            for t in TRANSITIONS.iter().filter(|t| t.from.contains(&s)) {
                if let Target::To(n) = t.to
                    && !seen.contains(&n)
                {
                    seen.push(n);
                    frontier.push(n);
                }
            }
        }
        for s in Status::ALL {
            assert!(seen.contains(s), "{s} unreachable");
        }
    }
}
