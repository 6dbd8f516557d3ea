//! QR codes as `data:image/png;base64,…` (modules from `qrcode`, PNG written with `png`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use qrcode::{Color, QrCode};

const SCALE: usize = 6;
const QUIET: usize = 4;

/// The PNG bytes of a QR code for `text`, or `None` if the text is too long for a QR code.
pub(crate) fn png(text: &str) -> Option<Vec<u8>> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % width + QUIET, i / width + QUIET);
        for dy in 0..SCALE {
            let row = (my * SCALE + dy) * side;
            for dx in 0..SCALE {
                pixels[row + mx * SCALE + dx] = 0;
            }
        }
    }
    let mut out = Vec::new();
    {
        let side = u32::try_from(side).ok()?;
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
        writer.finish().ok()?;
    }
    Some(out)
}

/// A `data:` URL of the QR code PNG for `text` (empty when it cannot be encoded).
pub(crate) fn data_url(text: &str) -> String {
    png(text)
        .map(|bytes| format!("data:image/png;base64,{}", STANDARD.encode(bytes)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn png_signature() {
        let bytes = super::png("http://127.0.0.1:8910/sandbox/qr/0123456789abcdef").expect("png");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(super::data_url("x").starts_with("data:image/png;base64,"));
    }
}
