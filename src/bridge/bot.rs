//! The bridge bot: accepts direct chats from permitted users, remembers them as management
//! rooms, and answers commands.

use ruma::events::room::member::{MembershipState, RoomMemberEventContent};
use ruma::events::room::message::{MessageType, Relation, RoomMessageEventContent};
use ruma::events::{
    AnyMessageLikeEvent, AnyStateEvent, AnyTimelineEvent, MessageLikeEvent, OriginalStateEvent,
    StateEvent,
};
use ruma::{EventId, OwnedTransactionId, RoomId, UserId};

use super::account;
use super::commands::{self, CommandKind, PrefixRule, Resolution};
use super::login::{FlowInput, FlowKey};
use super::{Bridge, BridgeError};
use crate::config::PermissionLevel;
use crate::telemetry::{self, Event};

const WELCOME: &str = "Hello, I'm the WhatsApp bridge bot. This is your management room: \
send `help` to see what I can do.";
const REFUSAL: &str = "You are not allowed to use this bridge. Ask its admin for access.";

pub(super) async fn handle(
    bridge: &Bridge,
    event: &AnyTimelineEvent,
    json: &str,
) -> Result<(), BridgeError> {
    if let AnyTimelineEvent::MessageLike(like) = event
        && let Some(portal) = bridge.db.portal_for_room(like.room_id()).await?
    {
        // In a portal, a message that starts with the command prefix is a command to
        // the bridge, not a message to WhatsApp.
        if let AnyMessageLikeEvent::RoomMessage(MessageLikeEvent::Original(message)) = like
            && let Some(body) = command_in_portal(bridge, message)
        {
            return on_text(
                bridge,
                &message.room_id,
                &message.sender,
                &message.event_id,
                body,
            )
            .await;
        }
        return super::outbox::queue(bridge, &portal, like, json).await;
    }
    match event {
        AnyTimelineEvent::State(AnyStateEvent::RoomMember(StateEvent::Original(member))) => {
            on_membership(bridge, member).await
        }
        AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::RoomMessage(
            MessageLikeEvent::Original(message),
        )) => {
            let is_edit = matches!(message.content.relates_to, Some(Relation::Replacement(_)));
            match &message.content.msgtype {
                MessageType::Text(text) if !is_edit => {
                    on_text(
                        bridge,
                        &message.room_id,
                        &message.sender,
                        &message.event_id,
                        &text.body,
                    )
                    .await
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The text of a portal message that is a prefixed command (not an edit).
fn command_in_portal<'a>(
    bridge: &Bridge,
    message: &'a ruma::events::room::message::OriginalRoomMessageEvent,
) -> Option<&'a str> {
    let MessageType::Text(text) = &message.content.msgtype else {
        return None;
    };
    if matches!(message.content.relates_to, Some(Relation::Replacement(_))) {
        return None;
    }
    commands::parse(
        &text.body,
        &bridge.config.bridge.command_prefix,
        PrefixRule::Required,
    )
    .map(|_| text.body.as_str())
}

async fn on_membership(
    bridge: &Bridge,
    member: &OriginalStateEvent<RoomMemberEventContent>,
) -> Result<(), BridgeError> {
    let bot = bridge.ids.bot();
    let room = &member.room_id;
    if member.state_key == bot {
        return match member.content.membership {
            MembershipState::Invite => {
                on_invite(
                    bridge,
                    room,
                    &member.sender,
                    &member.event_id,
                    member.content.is_direct,
                )
                .await
            }
            MembershipState::Leave | MembershipState::Ban => {
                bridge.db.forget_management_room(room).await?;
                Ok(())
            }
            _ => Ok(()),
        };
    }
    if member.content.membership == MembershipState::Invite
        && let Some(identifier) = bridge.ids.ghost_identifier(&member.state_key)
    {
        return super::start_chat::ghost_invited(
            bridge,
            room,
            &member.sender,
            &member.state_key,
            identifier,
            &member.event_id,
        )
        .await;
    }
    if member.sender == member.state_key && member.content.membership == MembershipState::Join {
        return bridge.owner_joined(&member.sender, room).await;
    }
    // The user left their management room: the bot leaves too, so no dead room lingers.
    let user_left =
        member.sender == member.state_key && member.content.membership == MembershipState::Leave;
    if user_left && bridge.db.management_room(&member.sender).await?.as_deref() == Some(room) {
        bridge.db.forget_management_room(room).await?;
        bridge.client.leave(bot, room, None).await?;
    }
    Ok(())
}

async fn on_invite(
    bridge: &Bridge,
    room: &RoomId,
    inviter: &UserId,
    invite_event: &EventId,
    is_direct: Option<bool>,
) -> Result<(), BridgeError> {
    let bot = bridge.ids.bot();
    let level = bridge.config.bridge.permissions.level_of(inviter);
    bridge.client.join(bot, room).await?;
    if level < PermissionLevel::Commands {
        telemetry::emit(Event::InviteRefused {
            sender: inviter.as_str(),
            room: room.as_str(),
        });
        let refusal = RoomMessageEventContent::notice_plain(REFUSAL);
        bridge
            .client
            .send_message(bot, room, reply_txn(invite_event), &refusal)
            .await?;
        bridge
            .client
            .leave(bot, room, Some("not allowed to use this bridge"))
            .await?;
        return Ok(());
    }
    // Clients mark direct chats in the invite; a group with the bot is not a management room.
    if is_direct == Some(true) {
        bridge
            .db
            .set_management_room(inviter, room, bridge.clock.now_ms())
            .await?;
        let welcome = RoomMessageEventContent::notice_markdown(WELCOME);
        bridge
            .client
            .send_message(bot, room, reply_txn(invite_event), &welcome)
            .await?;
    }
    Ok(())
}

async fn on_text(
    bridge: &Bridge,
    room: &RoomId,
    sender: &UserId,
    event_id: &EventId,
    body: &str,
) -> Result<(), BridgeError> {
    let level = bridge.config.bridge.permissions.level_of(sender);
    if level < PermissionLevel::Commands {
        return Ok(());
    }
    let in_management_room = bridge.db.management_room(sender).await?.as_deref() == Some(room);
    let rule = if in_management_room {
        PrefixRule::Optional
    } else {
        PrefixRule::Required
    };
    let prefix = &bridge.config.bridge.command_prefix;
    let Some(command) = commands::parse(body, prefix, rule) else {
        return Ok(());
    };
    let resolution = commands::resolve(&command.name, level);
    // In the management room, words that are no command belong to a running login (the
    // phone number it asked for).
    if in_management_room
        && matches!(resolution, Resolution::Unknown { .. })
        && bridge.flows.tell(
            &FlowKey::chat(sender),
            FlowInput::Text(body.trim().to_owned()),
        )
    {
        return Ok(());
    }
    telemetry::emit(Event::CommandHandled {
        command: &command.name,
        sender: sender.as_str(),
    });
    let context = account::Context {
        bridge,
        user: sender,
        room,
        in_management_room,
    };
    let answer = match resolution {
        Resolution::Run(CommandKind::Help) => Some(commands::help_text(prefix, level)),
        Resolution::Run(CommandKind::Version) => Some(commands::version_text()),
        Resolution::Run(CommandKind::Login) => account::login(&context, &command.args).await?,
        Resolution::Run(CommandKind::Cancel) => account::cancel(&context),
        Resolution::Run(CommandKind::Logout) => Some(account::logout(&context).await?),
        Resolution::Run(CommandKind::ListLogins) => Some(account::list_logins(&context).await?),
        Resolution::Run(CommandKind::Reconnect) => Some(account::reconnect(&context).await?),
        Resolution::Run(CommandKind::Search) => {
            Some(super::start_chat::search(&context, &command.args).await?)
        }
        Resolution::Run(CommandKind::Sync) => Some(account::sync(&context, &command.args).await?),
        Resolution::Run(CommandKind::MoreHistory) => {
            Some(super::backfill::more_history::more_history(bridge, sender, room).await?)
        }
        Resolution::Run(CommandKind::StartChat) => {
            Some(super::start_chat::start_chat(&context, &command.args).await?)
        }
        Resolution::Unknown { suggestion } => {
            Some(commands::unknown_text(&command.name, suggestion))
        }
        Resolution::NotAllowed => Some(format!("You are not allowed to use `{}`.", command.name)),
    };
    let Some(answer) = answer else {
        return Ok(());
    };
    let content = RoomMessageEventContent::notice_markdown(answer);
    bridge
        .client
        .send_message(bridge.ids.bot(), room, reply_txn(event_id), &content)
        .await?;
    Ok(())
}

/// The transaction ID of the bot's answer to `event`: the same event always yields the same
/// ID, so the homeserver drops a second answer if the event is handled again after a crash.
fn reply_txn(event: &EventId) -> OwnedTransactionId {
    OwnedTransactionId::from(format!("reply.{}", event.as_str().trim_start_matches('$')))
}
