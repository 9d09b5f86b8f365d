"""APIs that existing translation clients speak, over the same model, queue and limits as the
native one: LibreTranslate's (:mod:`.libretranslate`, under ``/libretranslate/``) and DeepL's v2
(:mod:`.deepl`, under ``/v2/`` and ``/deepl/v2/``)."""
