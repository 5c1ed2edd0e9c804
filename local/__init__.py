"""Tools beside the product: the Auth0 Management API emulator, the local AWS stack and the demo.

Nothing in here is deployed; the product (layers/, functions/) never imports it.
"""
