"""Media: quote cards drawn with Pillow (`layout`, `cards`), files stored by
content hash with their type read from the bytes (`store`), and the checks of
attachments against each platform's limits (`checks`)."""
