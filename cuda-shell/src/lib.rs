//! # evlatch-cuda
//!
//! CUDA events for [`evlatch`], to be built on cudarc's driver API loaded at
//! run time. This first release only names the device type it will register;
//! nothing here pretends to talk to a GPU yet.
//!
//! # Examples
//!
//! ```
//! assert_eq!(evlatch_cuda::DEVICE, evlatch::backend::DeviceType::CUDA);
//! ```

/// The device type this crate's backend registers under.
pub const DEVICE: evlatch::backend::DeviceType = evlatch::backend::DeviceType::CUDA;
