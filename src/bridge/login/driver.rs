//! Runs one login: asks for the number if needed, starts a WhatsApp session, feeds its
//! events through the state machine, and keeps the session on success. Every update is
//! published in the flow's progress (for the HTTP front-ends) and shown by its front-end
//! (the management room); success is shown only once the login is stored.

use std::time::Duration;

use ruma::OwnedUserId;
use tokio::sync::watch;

use super::chat::IN_PROGRESS;
use super::{FlowChannels, FlowInput, FlowKey, FlowSlot, LoginFlow, LoginFrontEnd, LoginMethod};
use super::{LoginUpdate, Progress};
use crate::bridge::{Bridge, BridgeError};
use crate::whatsapp::inbox::Inbox;
use crate::whatsapp::login_event::LoginEvent;
use crate::whatsapp::phone::PhoneNumber;
use crate::whatsapp::session::{Linking, Session};
use crate::whatsapp::session_event::SessionEvent;
use crate::whatsapp::store::WaStore;

const TICK: Duration = Duration::from_secs(1);

pub struct LoginRequest {
    pub user: OwnedUserId,
    pub method: LoginMethod,
    pub phone: Option<PhoneNumber>,
    /// The device-API device that the new login belongs to, if it came from there.
    pub api_device: Option<String>,
}

/// Publishes each update, then shows it.
struct Output<F> {
    front: F,
    progress: watch::Sender<Progress>,
}

impl<F: LoginFrontEnd> Output<F> {
    async fn show(&mut self, update: &LoginUpdate) -> Result<(), BridgeError> {
        self.progress.send_modify(|progress| {
            progress.seq += 1;
            progress.latest = Some(update.clone());
        });
        self.front.show(update).await
    }

    async fn show_end(&mut self, update: Option<LoginUpdate>) -> Result<(), BridgeError> {
        match update {
            Some(update) => self.show(&update).await,
            None => Ok(()),
        }
    }
}

/// Runs to the end of the flow; every outcome reaches the person through `front`.
pub async fn run<F: LoginFrontEnd>(
    bridge: Bridge,
    request: LoginRequest,
    slot: FlowSlot<FlowKey>,
    channels: FlowChannels,
    front: F,
) {
    let FlowChannels { inputs, progress } = channels;
    let mut output = Output { front, progress };
    if let Err(err) = drive(&bridge, request, inputs, &mut output).await {
        tracing::warn!(error = %err, "login flow failed");
        let _ = output
            .show(&LoginUpdate::Failed {
                reason: "the bridge hit an internal error; try again".into(),
            })
            .await;
    }
    drop(slot);
}

async fn drive<F: LoginFrontEnd>(
    bridge: &Bridge,
    request: LoginRequest,
    mut inputs: tokio::sync::mpsc::UnboundedReceiver<FlowInput>,
    output: &mut Output<F>,
) -> Result<(), BridgeError> {
    let now = || bridge.clock.now_ms();
    let (mut flow, first) = LoginFlow::start(request.method, request.phone, now());
    if let Some(update) = first {
        output.show(&update).await?;
    }
    while flow.is_awaiting_phone() {
        tokio::select! {
            input = inputs.recv() => match input {
                Some(FlowInput::Text(text)) => {
                    if let Err(err) = flow.provide_phone(&text, now()) {
                        output.front.say(&err.to_string()).await?;
                    }
                }
                Some(FlowInput::Cancel) | None => return output.show_end(flow.cancel()).await,
            },
            () = tokio::time::sleep(TICK) => {
                if let Some(update) = flow.tick(now()) {
                    return output.show(&update).await;
                }
            }
        }
    }

    let device_id = WaStore::create_device(&bridge.db).await?;
    let store = WaStore::open(bridge.db.clone(), device_id, bridge.clock.clone());
    let inbox = Inbox::new(bridge.db.clone(), device_id);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
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
            return output
                .show_end(flow.on_event(LoginEvent::Failed { reason }, now()))
                .await;
        }
    };

    let mut ticker = tokio::time::interval(TICK);
    let outcome = loop {
        let update = tokio::select! {
            event = events.recv() => match event {
                Some(SessionEvent::Login(event)) => flow.on_event(event, now()),
                Some(other) => {
                    tracing::debug!(?other, "session event during login");
                    None
                }
                None => break LoginUpdate::Failed { reason: "the WhatsApp session ended".into() },
            },
            input = inputs.recv() => match input {
                Some(FlowInput::Text(_)) => {
                    output.front.say(IN_PROGRESS).await?;
                    None
                }
                Some(FlowInput::Cancel) | None => {
                    break flow.cancel().unwrap_or(LoginUpdate::Cancelled);
                }
            },
            _ = ticker.tick() => flow.tick(now()),
        };
        match update {
            Some(update) if update.is_final() => break update,
            Some(update) => output.show(&update).await?,
            None => {}
        }
    };

    match &outcome {
        LoginUpdate::Succeeded { phone } => {
            bridge
                .db
                .add_login(
                    device_id,
                    &request.user,
                    phone.digits(),
                    now(),
                    request.api_device.as_deref(),
                )
                .await?;
            let owner = crate::bridge::sessions::Owner {
                user: request.user.clone(),
                phone: phone.clone(),
            };
            bridge.follow(device_id, owner, session, events, None).await;
            output.show(&outcome).await
        }
        _ => {
            session.stop().await;
            WaStore::delete_device(&bridge.db, device_id).await?;
            output.show(&outcome).await
        }
    }
}
