//! Runs one login: asks for the number if needed, starts a WhatsApp session, feeds its
//! events through the state machine to the front-end, and keeps the session on success.

use std::time::Duration;

use ruma::OwnedUserId;
use tokio::sync::mpsc;

use super::chat::{ChatFrontEnd, IN_PROGRESS};
use super::{FlowInput, FlowSlot, LoginFlow, LoginMethod, LoginUpdate};
use crate::bridge::{Bridge, BridgeError};
use crate::whatsapp::inbox::Inbox;
use crate::whatsapp::phone::PhoneNumber;
use crate::whatsapp::session::{Linking, Session};
use crate::whatsapp::session_event::SessionEvent;
use crate::whatsapp::store::WaStore;

const TICK: Duration = Duration::from_secs(1);

pub struct LoginRequest {
    pub user: OwnedUserId,
    pub method: LoginMethod,
    pub phone: Option<PhoneNumber>,
}

/// Runs to the end of the flow; every outcome reaches the person through `front`.
pub async fn run(
    bridge: Bridge,
    request: LoginRequest,
    slot: FlowSlot<OwnedUserId>,
    inputs: mpsc::UnboundedReceiver<FlowInput>,
    mut front: ChatFrontEnd,
) {
    if let Err(err) = drive(&bridge, request, inputs, &mut front).await {
        tracing::warn!(error = %err, "login flow failed");
        let _ = front
            .show(&LoginUpdate::Failed {
                reason: "the bridge hit an internal error; try again".into(),
            })
            .await;
    }
    drop(slot);
}

async fn drive(
    bridge: &Bridge,
    request: LoginRequest,
    mut inputs: mpsc::UnboundedReceiver<FlowInput>,
    front: &mut ChatFrontEnd,
) -> Result<(), BridgeError> {
    let now = || bridge.clock.now_ms();
    let (mut flow, first) = LoginFlow::start(request.method, request.phone, now());
    if let Some(update) = first {
        front.show(&update).await?;
    }
    while flow.is_awaiting_phone() {
        tokio::select! {
            input = inputs.recv() => match input {
                Some(FlowInput::Text(text)) => {
                    if let Err(err) = flow.provide_phone(&text, now()) {
                        front.say(&err.to_string()).await?;
                    }
                }
                Some(FlowInput::Cancel) | None => return show_end(front, flow.cancel()).await,
            },
            () = tokio::time::sleep(TICK) => {
                if let Some(update) = flow.tick(now()) {
                    return front.show(&update).await;
                }
            }
        }
    }

    let device_id = WaStore::create_device(&bridge.db).await?;
    let store = WaStore::open(bridge.db.clone(), device_id, bridge.clock.clone());
    let inbox = Inbox::new(bridge.db.clone(), device_id);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let linking = match (flow.method(), flow.phone()) {
        (LoginMethod::PairingCode, Some(phone)) => Linking::PairCode(phone),
        _ => Linking::Qr,
    };
    let session = match Session::start(store, inbox, &bridge.session_settings(), linking, events_tx)
        .await
    {
        Ok(session) => session,
        Err(err) => {
            WaStore::delete_device(&bridge.db, device_id).await?;
            let reason = format!("{err}; check whatsapp.websocket_url and the bridge's network");
            return show_end(
                front,
                flow.on_event(
                    crate::whatsapp::login_event::LoginEvent::Failed { reason },
                    now(),
                ),
            )
            .await;
        }
    };

    let mut ticker = tokio::time::interval(TICK);
    let outcome = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(SessionEvent::Login(event)) => {
                    if let Some(update) = flow.on_event(event, now()) {
                        front.show(&update).await?;
                        if flow.is_finished() {
                            break update;
                        }
                    }
                }
                Some(other) => tracing::debug!(?other, "session event during login"),
                None => break LoginUpdate::Failed { reason: "the WhatsApp session ended".into() },
            },
            input = inputs.recv() => match input {
                Some(FlowInput::Text(_)) => front.say(IN_PROGRESS).await?,
                Some(FlowInput::Cancel) | None => {
                    let update = flow.cancel().unwrap_or(LoginUpdate::Cancelled);
                    front.show(&update).await?;
                    break update;
                }
            },
            _ = ticker.tick() => {
                if let Some(update) = flow.tick(now()) {
                    front.show(&update).await?;
                    break update;
                }
            }
        }
    };

    match outcome {
        LoginUpdate::Succeeded { phone } => {
            bridge
                .db
                .add_login(device_id, &request.user, phone.digits(), now())
                .await?;
            let owner = crate::bridge::sessions::Owner {
                user: request.user.clone(),
                phone,
            };
            bridge.follow(device_id, owner, session, events, None).await;
        }
        _ => {
            session.stop().await;
            WaStore::delete_device(&bridge.db, device_id).await?;
        }
    }
    Ok(())
}

async fn show_end(
    front: &mut ChatFrontEnd,
    update: Option<LoginUpdate>,
) -> Result<(), BridgeError> {
    match update {
        Some(update) => front.show(&update).await,
        None => Ok(()),
    }
}
