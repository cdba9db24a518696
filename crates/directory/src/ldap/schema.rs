//! What a kind of LDAP directory looks like: its flavor (Active Directory
//! or plain LDAP, which decides the defaults) and which attribute holds
//! each of a user's names.

use serde::{Deserialize, Serialize};

use crate::capabilities::PhotoSlot;
use crate::user::UserKey;

/// Which kind of LDAP directory: decides the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LdapFlavor {
    /// Active Directory (or Samba AD): users
    /// `(&(objectCategory=person)(objectClass=user))` named by
    /// `sAMAccountName`, photo in `thumbnailPhoto` (96 px, at most
    /// 102,400 bytes), accounts disabled by `userAccountControl`.
    #[default]
    ActiveDirectory,
    /// A plain LDAP directory (OpenLDAP, 389-DS, FreeIPA): users
    /// `(objectClass=inetOrgPerson)` named by `uid`, photo in `jpegPhoto`
    /// (240 px, 64 KiB unless configured).
    Plain,
}

impl LdapFlavor {
    /// The default filter selecting user entries.
    pub fn default_user_filter(self) -> &'static str {
        match self {
            LdapFlavor::ActiveDirectory => "(&(objectCategory=person)(objectClass=user))",
            LdapFlavor::Plain => "(objectClass=inetOrgPerson)",
        }
    }

    /// The default attribute naming users (the listing key).
    pub fn default_name_attribute(self) -> &'static str {
        match self {
            LdapFlavor::ActiveDirectory => "sAMAccountName",
            LdapFlavor::Plain => "uid",
        }
    }

    /// The default photo attribute.
    pub fn default_photo_attribute(self) -> &'static str {
        match self {
            LdapFlavor::ActiveDirectory => "thumbnailPhoto",
            LdapFlavor::Plain => "jpegPhoto",
        }
    }

    /// The photo slot the directory holds by default.
    pub fn default_slot(self) -> PhotoSlot {
        match self {
            LdapFlavor::ActiveDirectory => PhotoSlot::Thumbnail,
            LdapFlavor::Plain => PhotoSlot::LdapJpeg,
        }
    }

    /// The largest photo the attribute can hold, if the flavour fixes one
    /// (`thumbnailPhoto`'s schema `rangeUpper` is 102,400 bytes).
    pub fn hard_max_bytes(self) -> Option<usize> {
        match self {
            LdapFlavor::ActiveDirectory => Some(102_400),
            LdapFlavor::Plain => None,
        }
    }

    /// Which attribute holds each user key, by default.
    pub fn default_attributes(self) -> AttributeMap {
        match self {
            LdapFlavor::ActiveDirectory => AttributeMap {
                name: "sAMAccountName".into(),
                upn: Some("userPrincipalName".into()),
                mail: Some("mail".into()),
                alias: Some("mailNickname".into()),
                employee_id: Some("employeeID".into()),
                display_name: Some("displayName".into()),
            },
            LdapFlavor::Plain => AttributeMap {
                name: "uid".into(),
                upn: None,
                mail: Some("mail".into()),
                alias: None,
                employee_id: Some("employeeNumber".into()),
                display_name: Some("displayName".into()),
            },
        }
    }

    /// A short name for messages: `Active Directory` or `LDAP`.
    pub fn label(self) -> &'static str {
        match self {
            LdapFlavor::ActiveDirectory => "Active Directory",
            LdapFlavor::Plain => "LDAP",
        }
    }
}

/// Which LDAP attribute holds each of a user's names.
///
/// A key whose attribute is `None` cannot be looked up (its
/// [`find_users`](crate::Directory::find_users) answers `NotSupported`). The
/// id is always the entry's DN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttributeMap {
    /// The logon name ([`UserKey::SamAccountName`]): `sAMAccountName`, `uid`.
    pub name: String,
    /// The user principal name: `userPrincipalName` (AD only).
    pub upn: Option<String>,
    /// The e-mail address: `mail`.
    pub mail: Option<String>,
    /// The Exchange alias: `mailNickname` (AD only).
    pub alias: Option<String>,
    /// The employee id: `employeeID` (AD), `employeeNumber` (inetOrgPerson).
    pub employee_id: Option<String>,
    /// The display name: `displayName`.
    pub display_name: Option<String>,
}

impl AttributeMap {
    /// The attribute for `key` (`None` for the id, which is the DN, and for
    /// keys this directory does not have).
    pub fn attribute(&self, key: UserKey) -> Option<&str> {
        match key {
            UserKey::SamAccountName => Some(&self.name),
            UserKey::Upn => self.upn.as_deref(),
            UserKey::Mail => self.mail.as_deref(),
            UserKey::Alias => self.alias.as_deref(),
            UserKey::EmployeeId => self.employee_id.as_deref(),
            UserKey::DisplayName => self.display_name.as_deref(),
            UserKey::Id => None,
        }
    }

    /// Sets (or with `None`, removes) the attribute for `key`. Setting the
    /// id or removing the name does nothing: the id is always the DN and
    /// every user has a name.
    pub fn set(&mut self, key: UserKey, attribute: Option<String>) {
        let slot = match key {
            UserKey::SamAccountName => {
                if let Some(a) = attribute {
                    self.name = a;
                }
                return;
            }
            UserKey::Upn => &mut self.upn,
            UserKey::Mail => &mut self.mail,
            UserKey::Alias => &mut self.alias,
            UserKey::EmployeeId => &mut self.employee_id,
            UserKey::DisplayName => &mut self.display_name,
            UserKey::Id => return,
        };
        *slot = attribute;
    }

    /// The keys with an attribute, plus the id.
    pub fn keys(&self) -> Vec<UserKey> {
        UserKey::ALL
            .into_iter()
            .filter(|&k| k == UserKey::Id || self.attribute(k).is_some())
            .collect()
    }
}
