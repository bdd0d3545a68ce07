//! A tenant's lifecycle: `active` → `suspended` (the platform's, reversible) → `deactivated`
//! (grace period: logins refused, data kept and exportable) → `purged` (a tombstone), and who
//! may move it between them. Who put the tenant in its state matters: an owner cannot leave a
//! state the platform put the tenant in.

/// Where a tenant is in its lifecycle (stored as `tenants.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
    Deactivated,
    Purged,
}

impl TenantStatus {
    /// The stored value; an unknown one reads as purged (nothing is allowed then).
    pub fn parse(raw: &str) -> TenantStatus {
        match raw {
            "active" => TenantStatus::Active,
            "suspended" => TenantStatus::Suspended,
            "deactivated" => TenantStatus::Deactivated,
            _ => TenantStatus::Purged,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Deactivated => "deactivated",
            TenantStatus::Purged => "purged",
        }
    }
}

/// Who moves a tenant (stored as `tenants.status_changed_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChanger {
    /// The tenant's own owner (a member holding `tenant:delete`).
    Owner,
    /// A platform admin or the platform's own processes.
    Platform,
}

impl StatusChanger {
    pub fn parse(raw: Option<&str>) -> Option<StatusChanger> {
        match raw {
            Some("owner") => Some(StatusChanger::Owner),
            Some("platform") => Some(StatusChanger::Platform),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusChanger::Owner => "owner",
            StatusChanger::Platform => "platform",
        }
    }
}

/// Why a transition is refused, for the caller to turn into a client error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionRefused {
    /// The move does not exist from this state (e.g. resume an active tenant).
    NotFrom(TenantStatus, TenantStatus),
    /// The owner may not leave, or act in, a state the platform put the tenant in.
    PlatformsDecision(TenantStatus),
    /// Only the platform makes this move (suspend, resume).
    PlatformOnly(TenantStatus),
}

impl std::fmt::Display for TransitionRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransitionRefused::NotFrom(from, to) => write!(
                f,
                "the tenant is {} and cannot become {}",
                from.as_str(),
                to.as_str()
            ),
            TransitionRefused::PlatformsDecision(from) => write!(
                f,
                "the platform made this {} tenant; only a platform admin can change that",
                from.as_str()
            ),
            TransitionRefused::PlatformOnly(to) => {
                write!(f, "only a platform admin can make a tenant {}", to.as_str())
            }
        }
    }
}

/// Whether `by` may move a tenant that `current_by` put in `from` to `to`.
pub fn check_transition(
    from: TenantStatus,
    current_by: Option<StatusChanger>,
    to: TenantStatus,
    by: StatusChanger,
) -> Result<(), TransitionRefused> {
    use TenantStatus::*;
    let exists = matches!(
        (from, to),
        (Active, Suspended)
            | (Suspended, Active)
            | (Active | Suspended, Deactivated)
            | (Deactivated, Active)
    );
    if !exists {
        return Err(TransitionRefused::NotFrom(from, to));
    }
    if by == StatusChanger::Platform {
        return Ok(());
    }
    if matches!((from, to), (Active, Suspended) | (Suspended, Active)) {
        return Err(TransitionRefused::PlatformOnly(to));
    }
    // The owner deactivates an active tenant, and reactivates what the owner deactivated.
    match (from, current_by) {
        (Active, _) => Ok(()),
        (Deactivated, Some(StatusChanger::Owner)) => Ok(()),
        _ => Err(TransitionRefused::PlatformsDecision(from)),
    }
}

#[cfg(test)]
mod tests {
    use super::{StatusChanger::*, TenantStatus::*, *};

    #[test]
    fn an_owner_cannot_leave_a_state_the_platform_chose() {
        // Suspended by the platform: the owner can neither deactivate nor resume.
        assert!(check_transition(Suspended, Some(Platform), Deactivated, Owner).is_err());
        assert!(check_transition(Suspended, Some(Platform), Active, Owner).is_err());
        // Deactivated by the platform: the owner cannot reactivate.
        assert_eq!(
            check_transition(Deactivated, Some(Platform), Active, Owner),
            Err(TransitionRefused::PlatformsDecision(Deactivated))
        );
        // What the owner did, the owner may undo.
        assert!(check_transition(Active, None, Deactivated, Owner).is_ok());
        assert!(check_transition(Deactivated, Some(Owner), Active, Owner).is_ok());
    }

    #[test]
    fn the_platform_makes_every_existing_move_and_no_other() {
        for (from, to) in [
            (Active, Suspended),
            (Suspended, Active),
            (Active, Deactivated),
            (Suspended, Deactivated),
            (Deactivated, Active),
        ] {
            assert!(check_transition(from, Some(Owner), to, Platform).is_ok());
        }
        assert_eq!(
            check_transition(Purged, None, Active, Platform),
            Err(TransitionRefused::NotFrom(Purged, Active))
        );
        assert!(check_transition(Active, None, Active, Platform).is_err());
    }

    #[test]
    fn messages_say_the_state_in_plain_words() {
        assert_eq!(
            TransitionRefused::NotFrom(Active, Active).to_string(),
            "the tenant is active and cannot become active"
        );
    }
}
