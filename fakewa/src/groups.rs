//! Groups as the fake server keeps them: subject, description, members and
//! their roles; the `<group>` node that `w:g2` queries answer with; and the
//! `w:gp2` notifications that tell members about changes.

use crate::node::unix_now;
use crate::state::State;
use std::collections::HashSet;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Member,
    Admin,
    SuperAdmin,
}

impl Role {
    fn wire(self) -> Option<&'static str> {
        match self {
            Self::Member => None,
            Self::Admin => Some("admin"),
            Self::SuperAdmin => Some("superadmin"),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub number: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub id: String,
    pub subject: String,
    pub subject_time: u64,
    pub subject_owner: String,
    pub description: Option<(String, String)>,
    pub creator: String,
    pub created: u64,
    pub members: Vec<Member>,
    /// (sender number, device key) pairs that already hold the sender's key.
    pub skdm_sent: HashSet<(String, String)>,
    pub picture: Option<crate::media::StoredPicture>,
}

impl Group {
    pub fn new(id: String, subject: String, creator: &str, members: Vec<Member>) -> Self {
        let now = unix_now();
        Self {
            id,
            subject,
            subject_time: now,
            subject_owner: creator.to_owned(),
            description: None,
            creator: creator.to_owned(),
            created: now,
            members,
            skdm_sent: HashSet::new(),
            picture: None,
        }
    }

    pub fn member_numbers(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|member| member.number.clone())
            .collect()
    }

    pub fn jid(&self) -> Jid {
        Jid::group(self.id.as_str())
    }
}

/// `<participant jid=… [type] lid=…/>`.
fn participant(state: &State, number: &str, role: Option<Role>) -> Node {
    let mut builder = NodeBuilder::new("participant").attr("jid", Jid::pn(number));
    if let Some(kind) = role.and_then(Role::wire) {
        builder = builder.attr("type", kind);
    }
    if let Ok(account) = state.account(number) {
        builder = builder.attr("lid", Jid::lid(account.lid_user.as_str()));
    }
    builder.build()
}

/// The `<group>` node of a `w:g2` answer.
pub(crate) fn group_node(state: &State, group: &Group) -> Node {
    let mut children: Vec<Node> = group
        .members
        .iter()
        .map(|member| participant(state, &member.number, Some(member.role)))
        .collect();
    if let Some((id, body)) = &group.description {
        children.push(
            NodeBuilder::new("description")
                .attr("id", id.clone())
                .attr("participant", Jid::pn(group.creator.as_str()))
                .attr("t", group.created.to_string())
                .children([NodeBuilder::new("body")
                    .bytes(body.clone().into_bytes())
                    .build()])
                .build(),
        );
    }
    NodeBuilder::new("group")
        .attr("id", group.id.clone())
        .attr("subject", group.subject.clone())
        .attr("s_t", group.subject_time.to_string())
        .attr("s_o", Jid::pn(group.subject_owner.as_str()))
        .attr("creation", group.created.to_string())
        .attr("creator", Jid::pn(group.creator.as_str()))
        .attr("size", group.members.len().to_string())
        .attr("addressing_mode", "pn")
        .children(children)
        .build()
}

/// A change made on WhatsApp, as members are told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Subject(String),
    Description(Option<String>),
    Add(Vec<String>),
    Remove(Vec<String>),
    Promote(Vec<String>),
    Demote(Vec<String>),
}

impl GroupChange {
    pub(crate) fn node(&self, state: &State, description_id: &str) -> Node {
        let participants = |tag: &'static str, numbers: &[String]| {
            NodeBuilder::new(tag)
                .children(
                    numbers
                        .iter()
                        .map(|number| participant(state, number, None)),
                )
                .build()
        };
        match self {
            Self::Subject(subject) => NodeBuilder::new("subject")
                .attr("subject", subject.clone())
                .attr("s_t", unix_now().to_string())
                .build(),
            Self::Description(Some(body)) => NodeBuilder::new("description")
                .attr("id", description_id.to_owned())
                .children([NodeBuilder::new("body")
                    .bytes(body.clone().into_bytes())
                    .build()])
                .build(),
            Self::Description(None) => NodeBuilder::new("description")
                .attr("id", description_id.to_owned())
                .children([NodeBuilder::new("delete").build()])
                .build(),
            Self::Add(numbers) => participants("add", numbers),
            Self::Remove(numbers) => participants("remove", numbers),
            Self::Promote(numbers) => participants("promote", numbers),
            Self::Demote(numbers) => participants("demote", numbers),
        }
    }
}

/// A group on the fake server, as a test drives it.
#[derive(Clone)]
pub struct GroupHandle {
    pub(crate) shared: std::sync::Arc<crate::state::Shared>,
    pub(crate) id: String,
}

impl GroupHandle {
    pub fn jid(&self) -> Jid {
        Jid::group(self.id.as_str())
    }

    /// Sets the group's picture (a JPEG) as member `by`, and tells the members' companions.
    pub fn set_picture(&self, by: &str, jpeg: Vec<u8>) -> crate::error::Result<()> {
        use crate::error::FakeWaError;
        let mut state = self.shared.state();
        let direct_path = state.media.put("profile", jpeg);
        state.next_message += 1;
        let id = format!("{}{:06}", unix_now(), state.next_message % 1_000_000);
        let notification_id = state.message_id();
        let group = state
            .groups
            .get_mut(&self.id)
            .ok_or_else(|| FakeWaError::UnknownGroup(self.id.clone()))?;
        group.picture = Some(crate::media::StoredPicture {
            id: id.clone(),
            direct_path,
        });
        let members = group.member_numbers();
        let group_jid = group.jid();
        let node = NodeBuilder::new("notification")
            .attr("from", group_jid.clone())
            .attr("id", notification_id)
            .attr("type", "picture")
            .attr("t", unix_now().to_string())
            .children([NodeBuilder::new("set")
                .attr("jid", group_jid)
                .attr("id", id)
                .attr("author", Jid::pn(by))
                .build()])
            .build();
        for number in members {
            for device in state.companions_of(&number) {
                state.delivery.enqueue(&device.jid, node.clone());
            }
        }
        Ok(())
    }

    /// Applies a change made by member `by` and notifies every member's
    /// companions (for additions and removals, those members' too).
    pub fn change(&self, by: &str, change: GroupChange) -> crate::error::Result<()> {
        use crate::error::FakeWaError;
        let mut state = self.shared.state();
        let notification_id = state.message_id();
        let group = state
            .groups
            .get_mut(&self.id)
            .ok_or_else(|| FakeWaError::UnknownGroup(self.id.clone()))?;
        let before = group.member_numbers();
        let set_role = |group: &mut Group, numbers: &[String], role: Role| {
            for member in group.members.iter_mut() {
                if numbers.contains(&member.number) {
                    member.role = role;
                }
            }
        };
        match &change {
            GroupChange::Subject(subject) => {
                group.subject = subject.clone();
                group.subject_time = unix_now();
                group.subject_owner = by.to_owned();
            }
            GroupChange::Description(body) => {
                group.description = body.clone().map(|body| (notification_id.clone(), body));
            }
            GroupChange::Add(numbers) => {
                for number in numbers {
                    if !group.members.iter().any(|member| &member.number == number) {
                        group.members.push(Member {
                            number: number.clone(),
                            role: Role::Member,
                        });
                    }
                }
            }
            GroupChange::Remove(numbers) => {
                group
                    .members
                    .retain(|member| !numbers.contains(&member.number));
                // A removed member's devices must not keep the sender keys.
                group.skdm_sent.clear();
            }
            GroupChange::Promote(numbers) => set_role(group, numbers, Role::Admin),
            GroupChange::Demote(numbers) => set_role(group, numbers, Role::Member),
        }
        let mut audience = before;
        for number in group.member_numbers() {
            if !audience.contains(&number) {
                audience.push(number);
            }
        }
        let group_jid = group.jid();
        let child = change.node(&state, &notification_id);
        let node = NodeBuilder::new("notification")
            .attr("from", group_jid)
            .attr("id", notification_id)
            .attr("type", "w:gp2")
            .attr("t", unix_now().to_string())
            .attr("participant", Jid::pn(by))
            .attr(
                "notify",
                state
                    .account(by)
                    .map(|a| a.push_name.clone())
                    .unwrap_or_default(),
            )
            .children([child])
            .build();
        for number in audience {
            for device in state.companions_of(&number) {
                state.delivery.enqueue(&device.jid, node.clone());
            }
        }
        Ok(())
    }
}
