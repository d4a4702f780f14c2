"""Files: finding photos and pairing masks (files), writing atomically (atomic), opening photos (decode),
their modes (photos), mask files (masks), what an output keeps of its input (metadata), 16-bit colour
files (depth16), PNG chunks (png), a TIFF's first page encoded again (tiffpage) and EXIF without its
thumbnail (thumbnail).

Imports nothing from the inpainting core: the networks never see a file.
"""
