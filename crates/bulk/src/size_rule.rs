//! The size rule and the write order: which targets a source photo goes
//! to, and in which order — a pure function every front end and the
//! planner share.
//!
//! Rules carried over from the original tool: a source of 96×96 or
//! smaller goes to Active Directory only (an HD target would get a blurry
//! or upscaled photo); HD targets are written first and the Active
//! Directory thumbnail last (on-premises Exchange writes its own 64×64
//! into AD when it takes an HD photo; ours must win).

use userphoto_directory::PhotoSlot;

use crate::reason::Reason;

/// A source whose centred square is at most this many pixels goes to
/// Active Directory only: an HD target would get a blurry or upscaled photo.
pub const SMALL_SOURCE_MAX: u32 = 96;

/// Whether a `width`×`height` source is "small" (its centred square is at
/// most [`SMALL_SOURCE_MAX`]), so it goes to Active Directory only.
pub fn is_small_source(width: u32, height: u32) -> bool {
    width.min(height) <= SMALL_SOURCE_MAX
}

/// Which targets a photo is written to, in which order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetPlan<T> {
    /// The targets to write, in write order: HD first, then plain LDAP,
    /// then the Active Directory thumbnail (ours must be the last word).
    pub order: Vec<T>,
    /// Targets left out, each with the reason.
    pub skipped: Vec<(T, Reason)>,
    /// Things the person should know about a target (an explicit HD
    /// target for a small source).
    pub warnings: Vec<(T, Reason)>,
}

/// The size rule and the write order, as a pure function.
///
/// `candidates` are the targets with the slot each holds; `explicit` says
/// whether the person named them (`--target`) or they are every configured
/// target. A small source (see [`is_small_source`]) skips HD targets unless
/// they were named, in which case it is written at its own size (never
/// upscaled) with a warning.
pub fn plan_targets<T: Clone>(
    width: u32,
    height: u32,
    candidates: &[(T, PhotoSlot)],
    explicit: bool,
) -> TargetPlan<T> {
    let small = is_small_source(width, height);
    let mut plan = TargetPlan {
        order: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
    };
    let rank = |slot: PhotoSlot| match slot {
        PhotoSlot::Hd => 0,
        PhotoSlot::Thumbnail => 2,
        _ => 1,
    };
    let mut chosen: Vec<(u8, usize, T)> = Vec::new();
    for (i, (target, slot)) in candidates.iter().enumerate() {
        if *slot == PhotoSlot::Hd && small {
            if explicit {
                plan.warnings
                    .push((target.clone(), Reason::SmallSourceWritten { width, height }));
            } else {
                plan.skipped
                    .push((target.clone(), Reason::SmallSourceSkipped { width, height }));
                continue;
            }
        }
        chosen.push((rank(*slot), i, target.clone()));
    }
    chosen.sort_by_key(|(r, i, _)| (*r, *i));
    plan.order = chosen.into_iter().map(|(_, _, t)| t).collect();
    plan
}
