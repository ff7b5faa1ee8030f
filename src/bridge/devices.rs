//! The device API's devices, for a dashboard: named slots of a Matrix user, each holding
//! at most one WhatsApp login, and the login flows that fill them.

use ruma::UserId;

use super::login::driver::LoginRequest;
use super::login::{
    AlreadyInProgress, FlowHandle, FlowInput, FlowKey, FlowOrigin, FollowedFrontEnd, LoginMethod,
};
use super::logins::{LoggedOut, LoginStatus};
use super::{Bridge, BridgeError};
use crate::db::api_devices::ApiDeviceRow;
use crate::whatsapp::phone::PhoneNumber;

/// One device as the API shows it.
#[derive(Debug, Clone)]
pub struct DeviceView {
    pub row: ApiDeviceRow,
    pub login: Option<LoginStatus>,
    /// The login flow running for it, if any.
    pub flow: Option<FlowHandle>,
}

/// Why a device's login could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceLoginError {
    #[error("the device is logged in already; log it out first")]
    AlreadyLoggedIn,
    #[error("a login of another kind is in progress for the device; cancel it first")]
    OtherLoginInProgress,
}

fn key(user: &UserId, device_id: &str) -> FlowKey {
    FlowKey {
        user: user.to_owned(),
        origin: FlowOrigin::Device(device_id.to_owned()),
    }
}

impl Bridge {
    pub async fn api_devices(&self, user: &UserId) -> Result<Vec<DeviceView>, BridgeError> {
        let mut views = Vec::new();
        for row in self.db.api_devices_of(user).await? {
            views.push(self.view(user, row).await?);
        }
        Ok(views)
    }

    pub async fn api_device(
        &self,
        user: &UserId,
        device_id: &str,
    ) -> Result<Option<DeviceView>, BridgeError> {
        match self.db.api_device(user, device_id).await? {
            Some(row) => Ok(Some(self.view(user, row).await?)),
            None => Ok(None),
        }
    }

    async fn view(&self, user: &UserId, row: ApiDeviceRow) -> Result<DeviceView, BridgeError> {
        let login = match row.login_device {
            Some(device) => self
                .login_of(user, device)
                .await?
                .map(|login| self.login_status(login)),
            None => None,
        };
        let flow = self.login_flow(&key(user, &row.device_id));
        Ok(DeviceView { row, login, flow })
    }

    /// False when the user has a device of that ID already.
    pub async fn create_api_device(
        &self,
        user: &UserId,
        device_id: &str,
        name: &str,
    ) -> Result<bool, BridgeError> {
        let now = self.clock.now_ms();
        Ok(self
            .db
            .create_api_device(user, device_id, name, now)
            .await?)
    }

    /// Cancels its flow, logs its account out, and removes the device; false when there
    /// was no such device.
    pub async fn delete_api_device(
        &self,
        user: &UserId,
        device_id: &str,
    ) -> Result<bool, BridgeError> {
        let Some(view) = self.api_device(user, device_id).await? else {
            return Ok(false);
        };
        if let Some(flow) = view.flow {
            flow.tell(FlowInput::Cancel);
        }
        if let Some(login) = view.login {
            self.log_out(&login.login).await?;
        }
        Ok(self.db.delete_api_device(user, device_id).await?)
    }

    /// Logs the device's account out; None when it held no login.
    pub async fn log_out_api_device(
        &self,
        view: &DeviceView,
    ) -> Result<Option<LoggedOut>, BridgeError> {
        match &view.login {
            Some(login) => Ok(Some(self.log_out(&login.login).await?)),
            None => Ok(None),
        }
    }

    /// Starts the device's login, or returns the one running when it is of the same
    /// kind (for a pairing code: for the same number).
    pub fn start_device_login(
        &self,
        view: &DeviceView,
        user: &UserId,
        method: LoginMethod,
        phone: Option<PhoneNumber>,
    ) -> Result<FlowHandle, DeviceLoginError> {
        if view.login.is_some() {
            return Err(DeviceLoginError::AlreadyLoggedIn);
        }
        let key = key(user, &view.row.device_id);
        if let Some(running) = self.login_flow(&key) {
            return if running.method() == method && running.phone() == phone {
                Ok(running)
            } else {
                Err(DeviceLoginError::OtherLoginInProgress)
            };
        }
        let request = LoginRequest {
            user: user.to_owned(),
            method,
            phone,
            api_device: Some(view.row.device_id.clone()),
        };
        self.start_login(request, key.origin, FollowedFrontEnd)
            .map_err(|AlreadyInProgress| DeviceLoginError::OtherLoginInProgress)
    }
}
