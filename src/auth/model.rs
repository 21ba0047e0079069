//! Roles, the signed-in principal, and the one permission check every handler calls.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    HubCoordinator,
    CommunitySecretary,
    Donor,
    Supplier,
    FoundationStaff,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::HubCoordinator,
        Role::CommunitySecretary,
        Role::Donor,
        Role::Supplier,
        Role::FoundationStaff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::HubCoordinator => "hub_coordinator",
            Role::CommunitySecretary => "community_secretary",
            Role::Donor => "donor",
            Role::Supplier => "supplier",
            Role::FoundationStaff => "foundation_staff",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The organisation kind an account of this role must be bound to, if any.
    pub fn bound_kind(self) -> Option<&'static str> {
        match self {
            Role::CommunitySecretary => Some("community"),
            Role::Donor => Some("donor"),
            Role::Supplier => Some("supplier"),
            _ => None,
        }
    }
}

/// Who is making the request, once signed in (by browser session or API token).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Principal {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// Organisations this account acts for (a secretary's communities, a donor's own record …).
    pub organisation_ids: Vec<i64>,
    /// Set when signed in through a browser session: forms must echo it back.
    #[serde(skip)]
    #[schema(ignore)]
    pub csrf_token: Option<String>,
}

impl Principal {
    pub fn acts_for(&self, organisation_id: i64) -> bool {
        self.organisation_ids.contains(&organisation_id)
    }

    pub fn label(&self) -> String {
        format!("{} <{}>", self.display_name, self.email)
    }
}

/// What a request wants to do. Adding a capability adds variants here, so the whole policy
/// stays in one place and the permission-matrix test covers it.
#[derive(Clone, Copy, Debug)]
pub enum Permission {
    /// See the registry of organisations.
    ReadRegistry,
    CreateOrganisation,
    /// Change one organisation's record.
    UpdateOrganisation {
        organisation_id: i64,
    },
    ArchiveOrganisation,
    /// See the catalogue of items and kits.
    ReadCatalogue,
    /// Add and change items and kits.
    ManageCatalogue,
    /// Read the audit trail of any record.
    ReadAudit,
    /// See needs (counts only; no personal data is kept).
    ReadNeeds,
    /// Post needs from a sheet (each row is then checked against `PostNeed`).
    ImportNeeds,
    /// Post or edit a need for a community.
    PostNeed {
        community_id: i64,
    },
    /// See pledges (a donor sees only their own).
    ReadPledges,
    /// Pledge for a donor organisation.
    CreatePledge {
        donor_id: i64,
    },
    /// Mark a donor's pledge received or cancel it.
    ChangePledgeStatus {
        donor_id: i64,
        status: crate::pledges::model::PledgeStatus,
    },
    /// See the hub's board of open needs, supply and shortfall.
    ReadBoard,
    /// See supplier offers and agreements (a supplier sees only its own).
    ReadSupply,
    /// Make or withdraw an offer for a supplier.
    OfferForSupplier {
        supplier_id: i64,
    },
    /// Create, activate and end framework agreements.
    ManageAgreements,
    /// Move a need of a community to a status set by people (cancel, expire, deliver, close).
    ChangeNeedStatus {
        community_id: i64,
        status: crate::needs::model::NeedStatus,
    },
    /// See matching plans and allocations.
    ReadPlans,
    /// Run matching, change a draft plan's lines, confirm or discard it.
    RunMatching,
    /// List, create and revoke one's own API tokens; see one's own account.
    OwnAccount,
    /// See locations, stock balances, lots, movements and stocktakes.
    ReadStock,
    /// Post stock movements and stocktakes, add locations, prepare and dispatch delivery runs.
    ManageStock,
    /// See delivery runs (a secretary sees those of their own communities).
    ReadDeliveries,
    /// Mark a run to a community delivered (the hub's volunteers, or the community itself).
    MarkDelivered {
        community_id: i64,
    },
    /// Confirm what a run actually brought to a community.
    ConfirmReceipt {
        community_id: i64,
    },
    /// See projects, budgets, receipts, disbursements and the ledger.
    ReadFunds,
    /// Create projects, record receipts, disbursements and budget adjustments.
    ManageFunds,
    /// Let a disbursement overdraw a fund or a budget line, with a recorded reason.
    OverrideOverdraw,
    /// Check the stock and fund books for broken invariants.
    CheckBooks,
    /// See the feedback on a donor's gifts (a donor their own).
    ReadFeedback {
        donor_id: i64,
    },
    /// Share a read-only link to a gift's feedback, or revoke one.
    ShareFeedback {
        donor_id: i64,
    },
    /// Send feedback to a project's donors; produce closing reports.
    Report,
    /// See the email outbox.
    ReadOutbox,
}

/// The permission check: 401 for the anonymous public, 403 for a role or ownership that does
/// not allow it.
pub fn authorize(
    actor: Option<&Principal>,
    permission: Permission,
) -> Result<&Principal, AppError> {
    let principal = actor.ok_or(AppError::Unauthenticated)?;
    if allows(principal, permission) {
        Ok(principal)
    } else {
        Err(AppError::Forbidden)
    }
}

pub fn allows(principal: &Principal, permission: Permission) -> bool {
    use Role::*;
    let role = principal.role;
    match permission {
        Permission::ReadRegistry | Permission::ReadCatalogue | Permission::OwnAccount => true,
        Permission::CreateOrganisation
        | Permission::ArchiveOrganisation
        | Permission::ManageCatalogue => {
            matches!(role, Admin | HubCoordinator)
        }
        Permission::UpdateOrganisation { organisation_id } => match role {
            Admin | HubCoordinator => true,
            CommunitySecretary | Donor | Supplier => principal.acts_for(organisation_id),
            FoundationStaff => false,
        },
        Permission::ReadAudit => role == Admin,
        Permission::ReadNeeds => true,
        Permission::ImportNeeds => matches!(role, Admin | HubCoordinator | CommunitySecretary),
        Permission::ReadBoard => matches!(role, Admin | HubCoordinator | FoundationStaff),
        Permission::ReadSupply => {
            matches!(role, Admin | HubCoordinator | FoundationStaff | Supplier)
        }
        Permission::OfferForSupplier { supplier_id } => match role {
            Admin | HubCoordinator => true,
            Supplier => principal.acts_for(supplier_id),
            _ => false,
        },
        Permission::ManageAgreements | Permission::RunMatching => {
            matches!(role, Admin | HubCoordinator)
        }
        Permission::ReadPlans => matches!(role, Admin | HubCoordinator | FoundationStaff),
        Permission::ReadStock => matches!(role, Admin | HubCoordinator | FoundationStaff),
        Permission::ManageStock => matches!(role, Admin | HubCoordinator),
        Permission::ReadDeliveries => {
            matches!(
                role,
                Admin | HubCoordinator | FoundationStaff | CommunitySecretary
            )
        }
        Permission::MarkDelivered { community_id } => match role {
            Admin | HubCoordinator => true,
            CommunitySecretary => principal.acts_for(community_id),
            _ => false,
        },
        Permission::ConfirmReceipt { community_id } => match role {
            Admin => true,
            CommunitySecretary => principal.acts_for(community_id),
            _ => false,
        },
        Permission::ReadFunds => matches!(role, Admin | HubCoordinator | FoundationStaff),
        Permission::ManageFunds => matches!(role, Admin | FoundationStaff),
        Permission::OverrideOverdraw | Permission::CheckBooks => role == Admin,
        Permission::ReadFeedback { donor_id } | Permission::ShareFeedback { donor_id } => {
            match role {
                Admin | HubCoordinator | FoundationStaff => true,
                Donor => principal.acts_for(donor_id),
                _ => false,
            }
        }
        Permission::Report | Permission::ReadOutbox => matches!(role, Admin | FoundationStaff),
        Permission::ReadPledges => matches!(role, Admin | HubCoordinator | FoundationStaff | Donor),
        Permission::CreatePledge { donor_id } => match role {
            Admin | HubCoordinator | FoundationStaff => true,
            Donor => principal.acts_for(donor_id),
            _ => false,
        },
        Permission::ChangePledgeStatus { donor_id, status } => {
            use crate::pledges::model::PledgeStatus::*;
            match role {
                Admin | HubCoordinator | FoundationStaff => true,
                // A donor may withdraw a promise not yet received.
                Donor => principal.acts_for(donor_id) && status == Cancelled,
                _ => false,
            }
        }
        Permission::PostNeed { community_id } => match role {
            Admin | HubCoordinator => true,
            CommunitySecretary => principal.acts_for(community_id),
            _ => false,
        },
        Permission::ChangeNeedStatus {
            community_id,
            status,
        } => {
            use crate::needs::model::NeedStatus::*;
            match role {
                Admin | HubCoordinator => true,
                // A secretary withdraws their community's need or confirms it arrived.
                CommunitySecretary => {
                    principal.acts_for(community_id) && matches!(status, Cancelled | Delivered)
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, orgs: Vec<i64>) -> Principal {
        Principal {
            user_id: 1,
            email: "a@b".into(),
            display_name: "A".into(),
            role,
            organisation_ids: orgs,
            csrf_token: None,
        }
    }

    #[test]
    fn anonymous_is_unauthenticated_not_forbidden() {
        assert!(matches!(
            authorize(None, Permission::ReadRegistry),
            Err(AppError::Unauthenticated)
        ));
    }

    #[test]
    fn secretary_updates_only_own_community() {
        let p = principal(Role::CommunitySecretary, vec![7]);
        assert!(allows(
            &p,
            Permission::UpdateOrganisation { organisation_id: 7 }
        ));
        assert!(!allows(
            &p,
            Permission::UpdateOrganisation { organisation_id: 8 }
        ));
        assert!(!allows(&p, Permission::CreateOrganisation));
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
