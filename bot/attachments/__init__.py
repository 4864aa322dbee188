"""Getting attachments: download only from allowed places, then the image checks.

`AttachmentFetcher` is the seam; `HttpImageFetcher` (Slack files, helpdesk
attachments) and `LocalFileFetcher` (the `diagnose` command) implement it. May
import `bot.safety`; never stores or transports.
"""
