"""Getting attachments: download only from allowed places, then read them as images or text.

`AttachmentFetcher` is the seam; `HttpImageFetcher` (Slack files, helpdesk
attachments) and `LocalFileFetcher` (the `diagnose` command) implement it.
`inspection` decides image, text or refusal; `text_files` decodes and cuts
text; `image_budget` shares one message's pixels between its screenshots. May
import `bot.safety`; never stores or transports.
"""
