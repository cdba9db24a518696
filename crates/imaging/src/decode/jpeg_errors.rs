//! A strict libjpeg error manager.
//!
//! libjpeg treats truncated files and corrupt entropy data as *warnings*:
//! it pads the picture with grey or noise and carries on. A half-grey photo
//! must never be published as someone's directory picture, so warnings that
//! mean "the pixels are damaged" become errors here, while harmless ones
//! (junk bytes between markers, a bad ICC chunk, an odd Adobe marker) are
//! tolerated. Errors unwind back to `catch_unwind` in `jpeg.rs`, as the
//! mozjpeg crate's own manager does.
//!
//! This is the crate's only `unsafe`: reading libjpeg's error struct, which
//! the safe wrapper does not expose.
#![allow(unsafe_code)]

use mozjpeg_sys::{
    jpeg_common_struct, jpeg_error_mgr, jpeg_std_error, JWRN_ADOBE_XFORM, JWRN_BOGUS_ICC,
    JWRN_EXTRANEOUS_DATA, JWRN_JFIF_MAJOR, JWRN_NOT_SEQUENTIAL,
};
use std::os::raw::c_int;

/// The payload carried by the unwind out of libjpeg.
#[derive(Debug)]
pub(crate) struct JpegFailure(pub(crate) String);

/// A fresh error manager whose warnings about damaged pixel data abort.
pub(crate) fn strict_error_mgr() -> jpeg_error_mgr {
    // SAFETY: jpeg_error_mgr is a plain C struct for which all-zero is a
    // valid (empty) state, and jpeg_std_error fills in every field.
    let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    // SAFETY: `err` is a valid, exclusively borrowed struct.
    unsafe {
        jpeg_std_error(&mut err);
    }
    err.error_exit = Some(fail_exit);
    err.emit_message = Some(strict_emit);
    err
}

/// Warnings that do not touch pixel data.
fn is_harmless(code: c_int) -> bool {
    [
        JWRN_EXTRANEOUS_DATA,
        JWRN_ADOBE_XFORM,
        JWRN_BOGUS_ICC,
        JWRN_JFIF_MAJOR,
        JWRN_NOT_SEQUENTIAL,
    ]
    .iter()
    .any(|&c| c as c_int == code)
}

fn message(cinfo: &mut jpeg_common_struct) -> String {
    // SAFETY: libjpeg always sets `err` before calling any handler.
    let err = unsafe { &*cinfo.err };
    match err.format_message {
        Some(format) => {
            let buffer = [0u8; 80];
            // SAFETY: format_message writes at most 80 bytes (JMSG_LENGTH_MAX)
            // into the buffer, NUL-terminated.
            unsafe { format(cinfo, &buffer) };
            let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
            String::from_utf8_lossy(&buffer[..end]).into_owned()
        }
        None => format!("libjpeg message {}", err.msg_code),
    }
}

extern "C-unwind" fn fail_exit(cinfo: &mut jpeg_common_struct) {
    let msg = message(cinfo);
    std::panic::resume_unwind(Box::new(JpegFailure(msg)));
}

extern "C-unwind" fn strict_emit(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level >= 0 {
        return; // trace messages
    }
    // SAFETY: as in `message`.
    let code = unsafe { (*cinfo.err).msg_code };
    if is_harmless(code) {
        return;
    }
    let msg = message(cinfo);
    std::panic::resume_unwind(Box::new(JpegFailure(msg)));
}
