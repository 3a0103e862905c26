//! Emulator of Microsoft Entra ID's token endpoint and a Power Automate HTTP trigger.
