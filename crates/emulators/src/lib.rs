//! Dev-only EMULATORS of Microsoft Graph and Exchange EWS, written from
//! Microsoft's published documentation. They are not the real services.
