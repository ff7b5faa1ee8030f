//! The QR code a person scans with WhatsApp, as a PNG image.

use image::{ImageFormat, Luma};
use qrcode::QrCode;

/// Side of the image in pixels: large enough for any phone camera from a screen.
pub const QR_SIZE: u32 = 512;

#[derive(Debug, thiserror::Error)]
pub enum QrImageError {
    #[error("the login code does not fit in a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("could not write the QR image: {0}")]
    Png(#[from] image::ImageError),
}

/// A 512×512 PNG of `data` as a QR code, with the quiet zone scanners need.
pub fn qr_png(data: &str) -> Result<Vec<u8>, QrImageError> {
    let code = QrCode::new(data.as_bytes())?;
    let rendered = code
        .render::<Luma<u8>>()
        .min_dimensions(QR_SIZE, QR_SIZE)
        .max_dimensions(QR_SIZE, QR_SIZE)
        .quiet_zone(true)
        .build();
    let image = image::imageops::resize(
        &rendered,
        QR_SIZE,
        QR_SIZE,
        image::imageops::FilterType::Nearest,
    );
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, ImageFormat::Png)?;
    Ok(png.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_512_square_and_scans_back_to_the_data() {
        let data = "2@Tq9x1ZbGq3/jK1,7ZkSb2Vf+8pbWtIBv0Zc0hAHWm8=,Q1JvZUlK2w9Jm1u1+6Mx5DNFxk=,Yk3sM0rjhQ1c0z5hY5m2UQ==,1";
        let png = qr_png(data).expect("png");
        let image = image::load_from_memory(&png).expect("decodes").to_luma8();
        assert_eq!(image.dimensions(), (QR_SIZE, QR_SIZE));
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (_, content) = grids[0].decode().expect("the QR code scans");
        assert_eq!(content, data);
    }
}
