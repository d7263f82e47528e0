"""The recipients' page (SPEC section 6, issue 15): signed links in every email (`tokens`, pure),
the secret they are signed with (`secret`), the page itself (`page`, pure) and the HTTP server
`bot run` embeds in its event loop (`server`, aiohttp.web)."""
