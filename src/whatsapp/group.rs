//! A WhatsApp group as the bridge mirrors it: its name, description and members with
//! their roles, read from WhatsApp.

use super::address::WaUser;

/// A member's standing in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupRole {
    Member,
    Admin,
    /// The group's creator (or whoever holds that role now).
    SuperAdmin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// By phone number when WhatsApp gave one, else by LID.
    pub user: WaUser,
    pub role: GroupRole,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<GroupMember>,
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("`{0}` is not a WhatsApp group")]
    BadGroup(String),
    /// The account is not (or no longer) in the group.
    #[error("the account is not a member of this group")]
    NotMember,
    #[error("WhatsApp did not answer about the group: {0}")]
    Failed(String),
}
